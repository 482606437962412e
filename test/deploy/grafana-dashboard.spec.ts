import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsService } from '../../apps/api/metrics/metrics.service';
import { fakeMetricsRepository } from '../../apps/api/testing/fakes';
import { loadConfig } from '@mlis/config';
import { createProcessRegistry, TEMPORAL_SDK_METRICS } from '@mlis/metrics';
import { exposedSeries, metricNamesIn, metricOfVariableQuery } from './promql-names';

const ROOT = join(__dirname, '../..');

interface Target {
  expr: string;
}
interface Panel {
  type: string;
  title: string;
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
}

const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/dashboards/mlis.json'), 'utf8')) as Dashboard;
const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);

/**
 * Every series some MLIS process serves: the three processes' registries (the API's ledger gauges too) and the Temporal
 * SDK's, with the tenant label configured.
 */
async function servedSeries(): Promise<Set<string>> {
  const api = new MetricsService(fakeMetricsRepository(), loadConfig({ MLIS_METRICS_TENANT_LABEL: 'top:3' }), null);
  const texts = [
    await api.render(),
    await createProcessRegistry('control', { revision: 'test', byTenant: true }).metrics(),
    await createProcessRegistry('node', { revision: 'test', defaultLabels: { group: 'g', node: 'n' } }).metrics(),
  ];
  const served = new Set(texts.flatMap((text) => [...exposedSeries(text)]));
  for (const name of [...TEMPORAL_SDK_METRICS.jobWorkflows, ...TEMPORAL_SDK_METRICS.node]) {
    served.add(name);
    // The SDK's durations are histograms (in seconds).
    if (name.endsWith('_seconds')) for (const suffix of ['_bucket', '_sum', '_count']) served.add(`${name}${suffix}`);
  }
  return served;
}

describe('deploy/grafana/dashboards/mlis.json', () => {
  it('has a stable uid, the datasource, group, tenant and node variables, and the rows operators look for', () => {
    expect(dashboard.uid).toBe('mlis-overview');
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'group', 'tenant', 'node']);
    expect(panels.filter((p) => p.type === 'row').map((p) => p.title)).toEqual([
      'Overview',
      'Queue',
      'Capacity and GPUs',
      'Outcomes and retries',
      'Nodes and heartbeats',
      'Control-plane health',
    ]);
    expect(panels.filter((p) => p.type !== 'row' && (p.targets?.length ?? 0) === 0).map((p) => p.title)).toEqual([]);
  });

  it('queries only metrics that an MLIS process serves', async () => {
    const served = await servedSeries();
    const queried = new Map<string, string>();
    for (const panel of panels) for (const target of panel.targets ?? []) for (const name of metricNamesIn(target.expr)) queried.set(name, panel.title);
    for (const variable of dashboard.templating.list) {
      const query = typeof variable.query === 'string' ? variable.query : variable.query.query;
      const name = variable.type === 'query' ? metricOfVariableQuery(query) : undefined;
      if (name) queried.set(name, `variable ${variable.name}`);
    }
    expect(queried.size).toBeGreaterThan(20);
    const unknown = [...queried].filter(([name]) => !served.has(name)).map(([name, where]) => `${name} (${where})`);
    expect(unknown).toEqual([]);
  });

  // The first run may install promtool (apt-get).
  it('has only expressions that Prometheus parses (promtool check rules, variables filled in)', () => {
    const promtool = execFileSync('bash', [join(ROOT, 'scripts/install-promtool.sh')], { encoding: 'utf8' }).trim();
    const exprs = panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
    // Grafana's durations first (the dashboard's time range an hour), then every variable as a regex that matches all.
    const filled = exprs.map((expr) => expr.replace(/\$__rate_interval/g, '5m').replace(/\$__range/g, '1h').replace(/\$\w+/g, '.*'));
    const rules = { groups: [{ name: 'dashboard', rules: filled.map((expr, i) => ({ record: `mlis:dashboard_check:${i}`, expr })) }] };
    const file = join(mkdtempSync(join(tmpdir(), 'mlis-dashboard-')), 'rules.json');
    // JSON is YAML: promtool reads it as a rules file.
    writeFileSync(file, JSON.stringify(rules));
    const result = spawnSync(promtool, ['check', 'rules', file], { encoding: 'utf8' });
    expect({ status: result.status, errors: result.stderr.trim() }).toEqual({ status: 0, errors: '' });
    expect(result.stdout).toContain(`SUCCESS: ${exprs.length} rules found`);
  }, 300_000);

  it('reads metric names out of PromQL, so that a misspelt one is caught', () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.95, sum by (le, route) (rate(mlis_http_request_duration_seconds_bucket{route=~"$route",x="a b"}[$__rate_interval]))) / ignoring (le) mlis_nope_total offset 1h > 1e3',
      ).sort(),
    ).toEqual(['mlis_http_request_duration_seconds_bucket', 'mlis_nope_total']);
    expect(metricOfVariableQuery('label_values(mlis_node_heartbeat_age_seconds{group=~"$group"}, node)')).toBe('mlis_node_heartbeat_age_seconds');
  });
});
