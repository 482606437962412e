import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '../..');

function runbook(): string {
  return readFileSync(join(ROOT, 'docs/runbooks/production-deploy.md'), 'utf8');
}

/** The rows of the runbook's alert table, whether or not they read as an alert. */
function alertTableRows(): string[] {
  const table = runbook().split('| alert | expression | for |\n|---|---|---|\n')[1] ?? '';
  return table.split('\n\n')[0].split('\n');
}

/**
 * The runbook's suggested alerts: the `| what | expression | for |` rows of its alert table, named by position. A `|`
 * in an expression is escaped in the table (`\|`).
 */
function suggestedAlerts(): { name: string; expr: string; for: string }[] {
  return [...runbook().matchAll(/^\| ([^|`]+?) \| `([^`]+)` \| (\d+m) \|$/gm)].map((row, i) => ({
    name: `alert_${i}`,
    expr: row[2].replaceAll('\\|', '|'),
    for: row[3],
  }));
}

describe('the suggested alerts in docs/runbooks/production-deploy.md', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mlis-alerts-'));
  const rules = join(dir, 'rules.yml');
  let promtool: string;

  beforeAll(() => {
    promtool = execFileSync('bash', [join(ROOT, 'scripts/install-promtool.sh')], { encoding: 'utf8' }).trim();
    const alerts = suggestedAlerts();
    // JSON is YAML: no quoting rules of our own.
    writeFileSync(rules, JSON.stringify({ groups: [{ name: 'mlis', rules: alerts.map((a) => ({ alert: a.name, expr: a.expr, for: a.for })) }] }));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs promtool's unit test of the suggested alerts over `series` (one a minute), expecting `alerts`. */
  type Series = { series: string; values: string };
  type AlertTest = { eval_time: string; alertname: string; exp_alerts: object[] };
  function expectAlerts(file: string, series: Series[], alerts: AlertTest[]): void {
    const test = join(dir, file);
    writeFileSync(
      test,
      JSON.stringify({
        rule_files: [rules],
        evaluation_interval: '1m',
        tests: [{ interval: '1m', input_series: series, alert_rule_test: alerts }],
      }),
    );
    const run = spawnSync(promtool, ['test', 'rules', test], { encoding: 'utf8' });
    expect({ status: run.status, output: run.stdout + run.stderr }).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
  }

  it('are valid Prometheus rules', () => {
    // Every row of the table reads as an alert (a backtick or an unescaped `|` in its description would drop it).
    expect(suggestedAlerts().length).toBe(alertTableRows().length);
    expect(alertTableRows().length).toBeGreaterThanOrEqual(8);
    const check = spawnSync(promtool, ['check', 'rules', rules], { encoding: 'utf8' });
    expect({ status: check.status, output: check.stdout + check.stderr }).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
  });

  it('fire for a group that lost a node or all of them for good, or keeps losing leases; not for a rollout that replaced one, nor for the attempts it hands back', () => {
    const alerts = suggestedAlerts();
    const nodesAlert = alerts.find((a) => a.expr.includes('mlis_nodes{status="ACTIVE"}'))!.name;
    const lossesAlert = alerts.find((a) => a.expr.includes('mlis_lease_losses_total'))!.name;
    expectAlerts(
      'nodes.yml',
      // Two API replicas export the same ledger gauges.
      ['api-1', 'api-2'].flatMap((instance) => [
        // cpu: three nodes, one replaced by a rollout at 30 min (one fewer for 3 min).
        { series: `mlis_nodes{instance="${instance}",group="cpu",status="ACTIVE"}`, values: '3x29 2x3 3x60' },
        // gpu: a node dies at 30 min and nothing replaces it.
        { series: `mlis_nodes{instance="${instance}",group="gpu",status="ACTIVE"}`, values: '2x29 1x63' },
        { series: `mlis_nodes{instance="${instance}",group="gpu",status="DEAD"}`, values: '0x29 1x63' },
        // tpu: its only node dies at 30 min: no ACTIVE series any more, only the DEAD one.
        { series: `mlis_nodes{instance="${instance}",group="tpu",status="ACTIVE"}`, values: '1x29' },
        { series: `mlis_nodes{instance="${instance}",group="tpu",status="DEAD"}`, values: '0x29 1x63' },
      ]).concat([
        // A slow rollout's stopping nodes hand two attempts a minute back for 15 min (control, one series per cause).
        { series: 'mlis_lease_losses_total{group="cpu",cause="node_shutdown"}', values: '0x29 2+2x14 30x50' },
        // and the attempts placed on each in the moment before it left, withdrawn before they started.
        { series: 'mlis_lease_losses_total{group="cpu",cause="node_gone"}', values: '0x29 2+2x14 30x50' },
        // A gpu node that keeps going silent: a lost lease a minute from 30 min on.
        { series: 'mlis_lease_losses_total{group="gpu",cause="heartbeat_timeout"}', values: '0x29 1+1x63' },
      ]),
      [
        { eval_time: '50m', alertname: nodesAlert, exp_alerts: [{ exp_labels: { group: 'gpu' } }, { exp_labels: { group: 'tpu' } }] },
        // Over 5 in 10 min from 36 min on: pending for 10 min, then firing.
        { eval_time: '40m', alertname: lossesAlert, exp_alerts: [] },
        { eval_time: '50m', alertname: lossesAlert, exp_alerts: [{ exp_labels: { group: 'gpu' } }] },
      ],
    );
  });

  it('fire when no API replica is up, whether its pods failed or are gone; not while one of them is', () => {
    const noApiAlert = suggestedAlerts().find((a) => a.expr.includes('up{job="mlis-api"}'))!.name;
    expectAlerts(
      'no-api.yml',
      [
        // api-1's pod is deleted at 10 min: its target and its series go.
        { series: 'up{job="mlis-api",instance="api-1"}', values: '1x9 stale' },
        // api-2 fails its scrapes from 15 to 24 min, answers again, and is deleted at 36 min.
        { series: 'up{job="mlis-api",instance="api-2"}', values: '1x14 0x9 1x10 stale' },
        // Control answers throughout: it is not an API.
        { series: 'up{job="mlis-control",instance="control-1"}', values: '1x40' },
      ],
      [
        { eval_time: '12m', alertname: noApiAlert, exp_alerts: [] },
        { eval_time: '17m', alertname: noApiAlert, exp_alerts: [{ exp_labels: {} }] },
        { eval_time: '30m', alertname: noApiAlert, exp_alerts: [] },
        { eval_time: '38m', alertname: noApiAlert, exp_alerts: [{ exp_labels: {} }] },
      ],
    );
  });
});
