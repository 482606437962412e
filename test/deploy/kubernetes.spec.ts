import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXPECTED_SEARCH_ATTRIBUTES, searchAttributesCreated } from '../support/search-attribute-command';

const ROOT = join(__dirname, '../..');
const OVERLAYS = ['dev', 'prod'] as const;

// Rendered manifests are plain JSON, read by shape.
type Doc = any;

interface Rendered {
  file: string;
  docs: Doc[];
}

let kubernetesValidate: string;
const rendered = {} as Record<(typeof OVERLAYS)[number], Rendered>;

// Renders each overlay with kustomize and reads it back as JSON (with the PyYAML that kubernetes-validate brings).
beforeAll(() => {
  const [kustomize, validate] = execFileSync('bash', [join(ROOT, 'scripts/install-k8s-tools.sh')], { encoding: 'utf8' }).trim().split('\n');
  kubernetesValidate = validate;
  const python = join(validate, '..', 'python');
  const dir = mkdtempSync(join(tmpdir(), 'mlis-k8s-'));
  for (const overlay of OVERLAYS) {
    const yaml = execFileSync(kustomize, ['build', join(ROOT, 'deploy/k8s/overlays', overlay)], { encoding: 'utf8' });
    const file = join(dir, `${overlay}.yaml`);
    writeFileSync(file, yaml);
    const json = execFileSync(python, ['-c', 'import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(sys.stdin))))'], { input: yaml, encoding: 'utf8' });
    rendered[overlay] = { file, docs: (JSON.parse(json) as Doc[]).filter(Boolean) };
  }
}, 900_000);

const find = (docs: Doc[], kind: string, name: string): Doc => docs.find((d) => d.kind === kind && d.metadata.name === name);
const container = (deployment: Doc): Doc => deployment.spec.template.spec.containers[0];
const envOf = (deployment: Doc): Record<string, string | undefined> =>
  Object.fromEntries((container(deployment).env ?? []).map((e: Doc) => [e.name, e.value]));
const workloads = (docs: Doc[]): Doc[] => docs.filter((d) => d.kind === 'Deployment' || d.kind === 'Job');

/** The V8 flags scripts/lib.sh gives each entry point by default (MLIS_API_, MLIS_SCHEDULER_, MLIS_WORKER_NODE_FLAGS). */
function localStackV8Flags(): Record<string, string> {
  const [api, control, worker] = execFileSync(
    'bash',
    ['-c', 'source scripts/lib.sh && printf "%s\\n" "$MLIS_API_NODE_FLAGS" "$MLIS_SCHEDULER_NODE_FLAGS" "$MLIS_WORKER_NODE_FLAGS"'],
    { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: process.env.HOME } },
  ).split('\n');
  return { 'dist/apps/api/main.js': api, 'dist/apps/control/main.js': control, 'dist/apps/worker/main.js': worker };
}

/** The options given to node itself: the words after it that start with --. */
const v8Flags = (command: string[]): string => command.slice(command.indexOf('node') + 1).filter((arg) => arg.startsWith('--')).join(' ');

describe.each(OVERLAYS)('deploy/k8s/overlays/%s', (overlay) => {
  const docs = (): Doc[] => rendered[overlay].docs;

  it('validates against the Kubernetes 1.31 schemas, strictly (only the ServiceMonitor CRD has no bundled schema)', () => {
    const result = spawnSync(kubernetesValidate, ['--strict', '--quiet', '-k', '1.31.0', rendered[overlay].file], { encoding: 'utf8' });
    const lines = `${result.stdout}${result.stderr}`.trim().split('\n').filter(Boolean);
    expect({ status: result.status, errors: lines.filter((l) => !l.includes("Couldn't find schema for kind ServiceMonitor")) }).toEqual({ status: 0, errors: [] });
    expect(docs().length).toBeGreaterThan(20);
  });

  it('creates every search attribute the workflows set, each name with its type', () => {
    expect(searchAttributesCreated(container(find(docs(), 'Job', 'mlis-temporal-setup')).command)).toEqual(EXPECTED_SEARCH_ATTRIBUTES);
  });

  it('spreads requests over the API replicas (stream tickets are in Postgres), outwaits the longest long-poll and streams uploads of any size at the Ingress', () => {
    if (overlay === 'dev') return expect(docs().some((d) => d.kind === 'Ingress')).toBe(false);
    const annotations = find(docs(), 'Ingress', 'mlis-api').metadata.annotations;
    expect(annotations['nginx.ingress.kubernetes.io/affinity']).toBeUndefined();
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThan(60 + 5);
    expect(annotations['nginx.ingress.kubernetes.io/proxy-body-size']).toBe('0');
    expect(annotations['nginx.ingress.kubernetes.io/proxy-request-buffering']).toBe('off');
  });

  it('runs the API behind a Service with health probes, a pause before it stops and an HPA, and the control process twice over in production', () => {
    const api = find(docs(), 'Deployment', 'mlis-api');
    expect(container(api).livenessProbe.httpGet.path).toBe('/health/live');
    expect(container(api).readinessProbe.httpGet.path).toBe('/health/ready');
    // Out of the endpoints before SIGTERM closes its connections, and done well within the grace period.
    expect(container(api).lifecycle.preStop.sleep.seconds).toBeLessThan(api.spec.template.spec.terminationGracePeriodSeconds - 10);
    expect(find(docs(), 'Service', 'mlis-api').spec.ports).toEqual([expect.objectContaining({ name: 'http', port: 8001 })]);
    expect(find(docs(), 'HorizontalPodAutoscaler', 'mlis-api').spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'mlis-api' });
    if (overlay === 'prod') expect(find(docs(), 'Deployment', 'mlis-control').spec.replicas).toBe(2);
    for (const name of ['mlis-api', 'mlis-control']) expect(find(docs(), 'PodDisruptionBudget', name).spec.selector.matchLabels['app.kubernetes.io/component']).toBe(name.slice(5));
    expect(container(find(docs(), 'Job', 'mlis-migrations')).command).toEqual(['node', 'dist/db/run-migrations.js']);
  });

  it('has one node Deployment per configured worker group, ready once registered; production GPU nodes ask for GPUs, select and tolerate GPU machines, probe nvidia-smi', () => {
    const config = docs().find((d) => d.kind === 'ConfigMap' && d.metadata.name.startsWith('mlis-config'));
    const groups = config.data.MLIS_WORKER_GROUPS.split(',');
    const nodes = docs().filter((d) => d.kind === 'Deployment' && container(d).command.includes('dist/apps/worker/main.js'));
    expect(nodes.map((d) => envOf(d).MLIS_NODE_GROUP).sort()).toEqual([...groups].sort());
    for (const node of nodes) expect(container(node).readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'metrics' });
    const gpu = find(docs(), 'Deployment', 'mlis-node-gpu');
    if (overlay === 'prod') {
      expect(container(gpu).resources.limits['nvidia.com/gpu']).toBeGreaterThan(0);
      expect(gpu.spec.template.spec.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
      expect(gpu.spec.template.spec.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
      expect(container(gpu).livenessProbe.exec.command[0]).toBe('nvidia-smi');
      expect(envOf(gpu).MLIS_NODE_GPU_PROBE).toBe('nvidia-smi');
    } else {
      // A dev cluster has no GPUs: simulated ones, and nothing that needs the device plugin.
      expect(envOf(gpu).MLIS_NODE_GPU_PROBE).toBe('simulated');
      expect(JSON.stringify(gpu)).not.toContain('nvidia.com/gpu');
    }
  });

  it('lets only the API be reached from outside; Prometheus reaches /metrics from the monitoring namespace', () => {
    const policies = docs().filter((d) => d.kind === 'NetworkPolicy');
    const deny = policies.find((p) => !p.spec.ingress);
    expect(deny.spec.podSelector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'mlis' });
    const open = policies.filter((p) => (p.spec.ingress ?? []).some((rule: Doc) => !rule.from));
    expect(open.map((p) => p.spec.podSelector.matchLabels['app.kubernetes.io/component'])).toEqual(['api']);
    const scrape = policies.find((p) => p.metadata.name === 'mlis-metrics-from-monitoring');
    expect(scrape.spec.ingress[0].from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
  });

  it('has a ServiceMonitor whose endpoints are named ports of the api, control and node Services', () => {
    const monitor = docs().find((d) => d.kind === 'ServiceMonitor');
    const selected = docs().filter(
      (d) => d.kind === 'Service' && Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => d.metadata.labels?.[k] === v),
    );
    expect(selected.map((s) => s.metadata.name).sort()).toEqual(['mlis-api', 'mlis-control', 'mlis-node']);
    const ports = new Set(selected.flatMap((s) => s.spec.ports.map((p: Doc) => p.name)));
    for (const endpoint of monitor.spec.endpoints) expect(ports.has(endpoint.port)).toBe(true);
  });

  it("applies, with the runbook's first selector, the migrations and setup Jobs and the ServiceAccount they run as", () => {
    const runbook = readFileSync(join(ROOT, 'docs/runbooks/production-deploy.md'), 'utf8');
    const selector = /-l 'app\.kubernetes\.io\/component in \(([^)]*)\)'/.exec(runbook);
    expect(selector).not.toBeNull();
    const components = new Set(selector![1].split(','));
    const first = docs().filter((d) => components.has(d.metadata.labels?.['app.kubernetes.io/component']));
    const jobs = first.filter((d) => d.kind === 'Job');
    expect(jobs.map((j) => j.metadata.name).sort()).toEqual(['mlis-migrations', 'mlis-temporal-setup']);
    for (const job of jobs) {
      const account = job.spec.template.spec.serviceAccountName;
      expect({ job: job.metadata.name, account, applied: first.some((d) => d.kind === 'ServiceAccount' && d.metadata.name === account) }).toEqual({
        job: job.metadata.name,
        account,
        applied: true,
      });
    }
  });

  it('migrates as the owner and runs api and control as another role, so the audit log stays append-only', () => {
    const secretKey = (workload: Doc, name: string): string | undefined =>
      container(workload).env?.find((e: Doc) => e.name === name)?.valueFrom?.secretKeyRef?.key;
    expect(secretKey(find(docs(), 'Job', 'mlis-migrations'), 'MLIS_MIGRATION_DATABASE_URL')).toBe('migration-url');
    expect(secretKey(find(docs(), 'Job', 'mlis-migrations'), 'DATABASE_URL')).toBe('url');
    for (const name of ['mlis-api', 'mlis-control']) {
      const workload = find(docs(), 'Deployment', name);
      expect(JSON.stringify(container(workload))).not.toContain('migration-url');
    }
    if (overlay === 'prod') {
      expect(readFileSync(join(ROOT, 'docs/runbooks/production-deploy.md'), 'utf8')).toMatch(/--from-literal=url='postgres:\/\/mlis_app:[\s\S]*--from-literal=migration-url='postgres:\/\/mlis:/);
    }
  });

  it('expires audit rows daily as the owner, one run at a time, with the entry point and variables the code has (ADR 0039)', () => {
    const cron = find(docs(), 'CronJob', 'mlis-audit-retention');
    expect(cron.spec).toMatchObject({ schedule: expect.stringMatching(/^\d+ \d+ \* \* \*$/), concurrencyPolicy: 'Forbid' });
    const job = cron.spec.jobTemplate.spec.template.spec.containers[0];
    expect(job.command).toEqual(['node', 'dist/db/expire-audit.js']);
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts['audit:expire']).toBe('node dist/db/expire-audit.js');
    const env = Object.fromEntries(job.env.map((e: Doc) => [e.name, e.valueFrom?.secretKeyRef?.key ?? e.value]));
    expect(env).toEqual({ MLIS_MIGRATION_DATABASE_URL: 'migration-url', MLIS_AUDIT_RETENTION_DAYS: expect.stringMatching(/^[1-9]\d*$/) });
    const known = new Set(readFileSync(join(ROOT, '.env.example'), 'utf8').match(/^[A-Z0-9_]+(?==)/gm));
    for (const name of Object.keys(env)) expect({ name, known: known.has(name) }).toEqual({ name, known: true });
  });

  it('refers only to ConfigMaps and Secrets that exist or, in production, that the runbook creates; commits no secret to production', () => {
    const names = (kind: string) => new Set(docs().filter((d) => d.kind === kind).map((d) => d.metadata.name));
    const text = JSON.stringify(workloads(docs()));
    const refs = (pattern: RegExp) => new Set([...text.matchAll(pattern)].map((m) => m[1]));
    const configRefs = refs(/"configMapRef":\{[^}]*"name":"([^"]+)"/g);
    expect(configRefs.size).toBe(1);
    for (const ref of configRefs) expect({ ref, exists: names('ConfigMap').has(ref) }).toEqual({ ref, exists: true });
    const secretRefs = new Set([
      ...refs(/"secretName":"([^"]+)"/g),
      ...refs(/"secretKeyRef":\{[^}]*"name":"([^"]+)"/g),
      ...refs(/"secretRef":\{[^}]*"name":"([^"]+)"/g),
    ]);
    expect(secretRefs.size).toBeGreaterThan(0);
    if (overlay === 'dev') {
      for (const ref of secretRefs) expect({ ref, exists: names('Secret').has(ref) }).toEqual({ ref, exists: true });
    } else {
      expect(names('Secret').size).toBe(0);
      expect([...secretRefs].sort()).toEqual(['mlis-auth', 'mlis-database', 'mlis-s3']);
      expect(readFileSync(join(ROOT, 'docs/runbooks/production-deploy.md'), 'utf8')).toMatch(/kubectl -n mlis create secret generic mlis-auth[\s\S]*mlis-database[\s\S]*mlis-s3/);
    }
  });

  it('starts the API, control and the nodes with the V8 flags the local stack gives them (scripts/lib.sh)', () => {
    const flags = localStackV8Flags();
    const started = workloads(docs()).filter((w) => Object.keys(flags).some((entry) => container(w).command?.includes(entry)));
    expect(started.length).toBeGreaterThanOrEqual(4);
    for (const workload of started) {
      const entry = Object.keys(flags).find((e) => container(workload).command.includes(e)) as string;
      const given = v8Flags(container(workload).command);
      expect({ workload: workload.metadata.name, flags: given }).toEqual({ workload: workload.metadata.name, flags: flags[entry] });
    }
  });

  it('stays in step with docker-compose.yml: one image, the same entry points, only variables libs/config reads', () => {
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    const known = new Set(readFileSync(join(ROOT, '.env.example'), 'utf8').match(/^[A-Z0-9_]+(?==)/gm));
    const mlis = workloads(docs()).filter((w) => container(w).image !== undefined && !container(w).image.startsWith('temporalio/'));
    const images = new Set(mlis.map((w) => container(w).image));
    expect(images.size).toBe(1);
    for (const workload of mlis) {
      // The entry point and any module preloaded before it (control's, ADR 0044).
      const files = container(workload).command.filter((arg: string) => arg.startsWith('dist/'));
      expect(files.length).toBeGreaterThan(0);
      const missing = files.filter((file: string) => !compose.includes(file));
      expect({ workload: workload.metadata.name, missing }).toEqual({ workload: workload.metadata.name, missing: [] });
      // NVIDIA_DRIVER_CAPABILITIES is for the container runtime, not MLIS.
      const variables = (container(workload).env ?? []).map((e: Doc) => e.name).filter((n: string) => n !== 'NVIDIA_DRIVER_CAPABILITIES');
      const unknown = variables.filter((n: string) => !known.has(n));
      expect({ workload: workload.metadata.name, unknown }).toEqual({ workload: workload.metadata.name, unknown: [] });
    }
    const config = docs().find((d) => d.kind === 'ConfigMap' && d.metadata.name.startsWith('mlis-config'));
    expect(Object.keys(config.data).filter((n) => !known.has(n))).toEqual([]);
  });
});

describe('docker-compose.yml and the Dockerfile', () => {
  it('start the API, control and the nodes with the V8 flags the local stack gives them (scripts/lib.sh)', () => {
    const flags = localStackV8Flags();
    expect(Object.values(flags).every((f) => f.startsWith('--'))).toBe(true);
    // docker-compose.yml's commands are JSON arrays, the nodes' a shell line that execs node.
    const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    const composeCommands = compose.match(/^\s*command: .*dist\/apps\/\w+\/main\.js.*$/gm) ?? [];
    expect(composeCommands.length).toBeGreaterThanOrEqual(6);
    for (const line of composeCommands) {
      const entry = Object.keys(flags).find((e) => line.includes(e)) as string;
      const given = /node ((?:--\S+ ?)*)/.exec(line.replace(/", "/g, ' '))?.[1].trim();
      expect({ line: line.trim(), flags: given }).toEqual({ line: line.trim(), flags: flags[entry] });
    }
    const cmd = JSON.parse(/^CMD (.*)$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1] ?? '[]') as string[];
    expect(v8Flags(cmd)).toBe(flags['dist/apps/api/main.js']);
  });
});
