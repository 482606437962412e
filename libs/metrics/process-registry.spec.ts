import { createProcessRegistry } from './process-registry';

async function names(registry: ReturnType<typeof createProcessRegistry>): Promise<string[]> {
  return (await registry.getMetricsAsJSON()).map((metric) => metric.name);
}

describe(createProcessRegistry.name, () => {
  it('serves build info and only what each process records', async () => {
    const api = await names(createProcessRegistry('api', { revision: 'abc123' }));
    const control = await names(createProcessRegistry('control', { revision: 'abc123' }));
    const node = await names(createProcessRegistry('node', { revision: 'abc123', defaultLabels: { group: 'gpu', node: 'gpu-1' } }));
    for (const served of [api, control, node]) expect(served).toEqual(expect.arrayContaining(['mlis_build_info', 'process_cpu_seconds_total']));
    expect(api).toEqual(expect.arrayContaining(['mlis_http_request_duration_seconds', 'mlis_scheduler_cycle_duration_seconds', 'mlis_admission_wait_seconds']));
    expect(control).toEqual(
      expect.arrayContaining([
        'mlis_admission_wait_seconds',
        'mlis_run_duration_seconds',
        'mlis_lease_losses_total',
        'mlis_preemptions_total',
        'mlis_artifact_retention_removed_total',
        'mlis_artifact_retention_failures_total',
      ]),
    );
    expect(api).not.toContain('mlis_artifact_retention_removed_total');
    expect(control).not.toContain('mlis_http_request_duration_seconds');
    expect(node).toEqual(expect.arrayContaining(['mlis_node_runs_in_progress', 'mlis_model_cache_lookups_total', 'mlis_model_batch_size']));
    expect(node).not.toContain('mlis_admission_wait_seconds');
    // Gauges named like counters are left out (promtool rejects them).
    expect([...api, ...control, ...node].filter((name) => name.startsWith('nodejs_') && name.endsWith('_total'))).toEqual([]);
  });

  it('serves the metrics by tenant only when the tenant label is configured (ADR 0041)', async () => {
    const byTenant = ['mlis_tenant_admission_wait_seconds', 'mlis_tenant_run_seconds_total', 'mlis_tenant_gpu_seconds_total'];
    const served = async (process: 'api' | 'control', tenantLabel: boolean) =>
      (await names(createProcessRegistry(process, { revision: 'abc123', byTenant: tenantLabel }))).filter((name) => byTenant.includes(name));
    expect(await served('control', true)).toEqual(byTenant);
    expect(await served('control', false)).toEqual([]);
    // An API that runs no job workflows observes only admission waits (a node's start report).
    expect(await served('api', true)).toEqual(['mlis_tenant_admission_wait_seconds']);
  });

  it('serves what the ledger activities record from an API that runs job workflows (ADR 0052)', async () => {
    const ledger = ['mlis_run_duration_seconds', 'mlis_lease_losses_total', 'mlis_preemptions_total', 'mlis_admission_wait_seconds'];
    const httpOnly = await names(createProcessRegistry('api', { revision: 'abc123' }));
    const withWorkflows = await names(createProcessRegistry('api', { revision: 'abc123', jobWorkflows: true }));
    const byTenant = await names(createProcessRegistry('api', { revision: 'abc123', jobWorkflows: true, byTenant: true }));
    expect(httpOnly.filter((name) => ledger.includes(name))).toEqual(['mlis_admission_wait_seconds']);
    expect(withWorkflows).toEqual(expect.arrayContaining([...ledger, 'mlis_http_request_duration_seconds']));
    expect(byTenant).toEqual(expect.arrayContaining(['mlis_tenant_admission_wait_seconds', 'mlis_tenant_run_seconds_total', 'mlis_tenant_gpu_seconds_total']));
    // Each metric once (prom-client refuses a second registration of a name).
    expect(new Set(byTenant).size).toBe(byTenant.length);
  });

  it('labels build info with the process, version and revision, and a node\'s series with its group and id', async () => {
    const text = await createProcessRegistry('node', { revision: 'abc123', defaultLabels: { group: 'gpu', node: 'gpu-1' } }).metrics();
    expect(text).toMatch(/^mlis_build_info\{process="node",version="\d+\.\d+\.\d+",revision="abc123",nodejs_version="v\d+[^"]*",group="gpu",node="gpu-1"\} 1$/m);
  });
});
