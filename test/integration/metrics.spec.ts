import { api, env, submit, TERMINAL, waitForJob } from './support/api';

/** The value of one sample line, e.g. sample(body, 'mlis_jobs_waiting{reason="queued"}'). */
function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(): Promise<string> {
  const response = await fetch(`${env.apiUrl}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  return response.text();
}

describe('GET /metrics', () => {
  jest.setTimeout(90_000);

  afterAll(async () => {
    for (const node of ['gpu-1', 'gpu-2']) await api('POST', `/v1/workers/${node}/undrain`);
  });

  it('counts waiting jobs and scheduling decisions by reason, and capacity by group, without credentials', async () => {
    for (const node of ['gpu-1', 'gpu-2']) await api('POST', `/v1/workers/${node}/drain`);
    const waiting = await submit({ task_type: 'gpu_demo', params: { seconds: 0.2 }, cpu: 1, mem_mb: 256, gpu: 1 });
    await waitForJob(waiting.id, (j) => j.pending_reason === 'all_nodes_draining');

    const during = await scrape();
    expect(sample(during, 'mlis_jobs_waiting{reason="all_nodes_draining"}')).toBeGreaterThanOrEqual(1);
    expect(sample(during, 'mlis_scheduler_decisions_total{outcome="waiting",reason="all_nodes_draining"}')).toBeGreaterThanOrEqual(1);
    expect(sample(during, 'mlis_capacity{group="cpu",resource="slots"}')).toBe(8);
    expect(sample(during, 'mlis_nodes{group="gpu",status="DRAINING"}')).toBe(2);
    expect(sample(during, 'mlis_scheduler_last_cycle_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 60);
    // Aggregates only: no job id, no tenant.
    expect(during).not.toContain(waiting.id);
    expect(during).not.toMatch(/tenant/);

    const placedBefore = sample(during, 'mlis_scheduler_decisions_total{outcome="placed",reason="fit"}') ?? 0;
    for (const node of ['gpu-1', 'gpu-2']) await api('POST', `/v1/workers/${node}/undrain`);
    expect((await waitForJob(waiting.id, (j) => TERMINAL.includes(j.state))).state).toBe('SUCCEEDED');
    const after = await scrape();
    expect(sample(after, 'mlis_scheduler_decisions_total{outcome="placed",reason="fit"}')).toBeGreaterThan(placedBefore);
    expect(sample(after, 'mlis_capacity{group="gpu",resource="gpus"}')).toBe(4);
  });
});
