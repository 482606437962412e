import { TEMPORAL_SDK_METRICS } from '@mlis/metrics';
import { api, killNode, poll, restartNode, submit, TERMINAL, waitForJob } from './support/api';
import { families, metricsUrl, parseSamples, promtoolCheck, scrape, valueOf, type Sample } from './support/metrics';

async function samplesOf(process: string): Promise<Sample[]> {
  return parseSamples(await scrape(metricsUrl(process)));
}

describe('metrics', () => {
  jest.setTimeout(120_000);

  afterAll(async () => {
    for (const node of ['gpu-1', 'gpu-2']) await api('POST', `/v1/workers/${node}/undrain`);
  });

  it('API: waiting jobs and decisions by reason, capacity by group and node in base units, heartbeat age; no tenant, no job id', async () => {
    for (const node of ['gpu-1', 'gpu-2']) await api('POST', `/v1/workers/${node}/drain`);
    const waiting = await submit({ task_type: 'gpu_demo', params: { seconds: 0.2 }, cpu: 1, mem_mb: 256, gpu: 1, worker_group: 'gpu' });
    await waitForJob(waiting.id, (j) => j.pending_reason === 'all_nodes_draining');

    const text = await scrape(metricsUrl('api'));
    const during = parseSamples(text);
    expect(valueOf(during, 'mlis_jobs_waiting', { reason: 'all_nodes_draining', group: 'gpu' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(during, 'mlis_scheduler_decisions_total', { outcome: 'waiting', reason: 'all_nodes_draining' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(during, 'mlis_node_capacity_slots', { group: 'cpu' })).toBe(8);
    expect(valueOf(during, 'mlis_node_capacity_cpu_cores', { group: 'cpu', node: 'cpu-1' })).toBe(4);
    expect(valueOf(during, 'mlis_node_capacity_memory_bytes', { group: 'cpu', node: 'cpu-1' })).toBe(8192 * 1024 * 1024);
    expect(valueOf(during, 'mlis_nodes', { group: 'gpu', status: 'DRAINING' })).toBe(2);
    expect(valueOf(during, 'mlis_scheduler_last_cycle_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 60);
    // Heartbeats every second here, dead after 4 s of silence.
    for (const node of ['cpu-1', 'cpu-2', 'gpu-1', 'gpu-2']) {
      expect({ node, age: valueOf(during, 'mlis_node_heartbeat_age_seconds', { node }) }).toEqual({ node, age: expect.any(Number) });
      expect(valueOf(during, 'mlis_node_heartbeat_age_seconds', { node })).toBeLessThan(4);
    }
    expect(valueOf(during, 'mlis_build_info', { process: 'api' })).toBe(1);
    expect(valueOf(during, 'mlis_http_request_duration_seconds_count', { route: '/v1/jobs', method: 'POST', status_class: '2xx' })).toBeGreaterThanOrEqual(1);
    // Aggregates only: no job id, no tenant label or id (MLIS_METRICS_TENANT_LABEL is off by default; a route
    // pattern such as /v1/tenants/:id may name the word).
    expect(text).not.toContain(waiting.id);
    expect(text).not.toMatch(/tenant="/);
    expect(text).not.toContain('"default"');

    const placedBefore = valueOf(during, 'mlis_scheduler_decisions_total', { outcome: 'placed', reason: 'fit' }) ?? 0;
    const controlBefore = await samplesOf('control');
    for (const node of ['gpu-1', 'gpu-2']) await api('POST', `/v1/workers/${node}/undrain`);
    const done = await waitForJob(waiting.id, (j) => TERMINAL.includes(j.state));
    expect(done.state).toBe('SUCCEEDED');
    const after = await samplesOf('api');
    expect(valueOf(after, 'mlis_scheduler_decisions_total', { outcome: 'placed', reason: 'fit' })).toBeGreaterThan(placedBefore);
    // Live jobs are counted, ended ones come from the ledger's totals: this one moved from one to the other.
    expect(valueOf(during, 'mlis_jobs', { state: 'QUEUED' })).toBeGreaterThanOrEqual(1);
    const succeeded = (s: Sample[]) => valueOf(s, 'mlis_jobs', { state: 'SUCCEEDED' }) ?? 0;
    expect(succeeded(after) - succeeded(during)).toBeGreaterThanOrEqual(1);
    expect(valueOf(after, 'mlis_node_capacity_gpus', { group: 'gpu' })).toBe(4);

    // Its admission (it waited while the group drained) was observed once: by the API when the node reported the
    // start, or by control when the attempt ended before the report was due (ADR 0030); control observed its run.
    const control = await samplesOf('control');
    const waits = (s: Sample[]) => valueOf(s, 'mlis_admission_wait_seconds_count', { group: 'gpu' }) ?? 0;
    const waitSum = (s: Sample[]) => valueOf(s, 'mlis_admission_wait_seconds_sum', { group: 'gpu' }) ?? 0;
    const runs = (s: Sample[]) => valueOf(s, 'mlis_run_duration_seconds_count', { task_type: 'gpu_demo', outcome: 'SUCCEEDED' }) ?? 0;
    expect(waits(after) - waits(during) + waits(control) - waits(controlBefore)).toBe(1);
    expect(waitSum(after) - waitSum(during) + waitSum(control) - waitSum(controlBefore)).toBeGreaterThan(0);
    expect(runs(control) - runs(controlBefore)).toBe(1);
    // The job's end in control released its resources and asked for a cycle: one that first checks whether a job
    // waits, or one that ran in full because a request that needed it (the timer's) shared it (ADR 0046). Control may
    // have run no cycle at all: the API placed the job, and the check finds nothing waiting once it has ended.
    const checks = (result: string) => valueOf(control, 'mlis_scheduler_cycle_checks_total', { result }) ?? 0;
    const cycles = valueOf(control, 'mlis_scheduler_cycle_duration_seconds_count') ?? 0;
    expect(checks('job_waits') + checks('nothing_waits') + cycles).toBeGreaterThan(0);
    expect(valueOf(control, 'mlis_build_info', { process: 'control' })).toBe(1);
  });

  it('API: mlis_job_submissions_total counts accepted, replayed and refused submissions by reason', async () => {
    const submissions = (s: Sample[], outcome: string, reason: string) => valueOf(s, 'mlis_job_submissions_total', { outcome, reason }) ?? 0;
    const before = await samplesOf('api');
    const job = { task_type: 'sleep', params: { seconds: 0.01 } };
    const key = `metrics-${Date.now()}`;
    await submit(job, { 'Idempotency-Key': key });
    expect((await api('POST', '/v1/jobs', job, { 'Idempotency-Key': key })).status).toBe(200);
    expect((await api('POST', '/v1/jobs', { ...job, mem_mb: 10_000_000 })).status).toBe(422);
    expect((await api('POST', '/v1/jobs', job, { authorization: 'Bearer not-a-jwt' })).status).toBe(401);

    // Counted as each answer finished: poll until the last one shows.
    const after = await poll('the refused submissions counted', async () => {
      const samples = await samplesOf('api');
      return submissions(samples, 'refused', 'unauthorized') > submissions(before, 'refused', 'unauthorized') ? samples : undefined;
    });
    expect(submissions(after, 'accepted', 'none') - submissions(before, 'accepted', 'none')).toBe(1);
    expect(submissions(after, 'replayed', 'none') - submissions(before, 'replayed', 'none')).toBe(1);
    expect(submissions(after, 'refused', 'unschedulable') - submissions(before, 'refused', 'unschedulable')).toBe(1);
    expect(submissions(after, 'refused', 'unauthorized') - submissions(before, 'refused', 'unauthorized')).toBe(1);
  });

  it("every process's /metrics passes promtool check metrics; control and nodes carry the Temporal SDK's worker metrics in seconds", async () => {
    const job = await submit({ task_type: 'gpu_demo', params: { seconds: 0.3 }, cpu: 1, mem_mb: 256, gpu: 1 });
    const done = await waitForJob(job.id, (j) => TERMINAL.includes(j.state));
    expect(done.state).toBe('SUCCEEDED');
    const ranOn = done.latest_assignment.node_id as string;

    for (const process of ['api', 'control', 'cpu-1', 'cpu-2', 'gpu-1', 'gpu-2']) {
      const text = await scrape(metricsUrl(process));
      expect({ process, check: promtoolCheck(text) }).toEqual({ process, check: { status: 0, output: '' } });
    }
    for (const process of ['control', ranOn]) {
      const declared = families(await scrape(metricsUrl(process)));
      const expected: readonly string[] = process === 'control' ? TEMPORAL_SDK_METRICS.control : TEMPORAL_SDK_METRICS.node;
      expect({ process, missing: expected.filter((name) => !declared.has(name)) }).toEqual({ process, missing: [] });
    }

    const node = parseSamples(await scrape(metricsUrl(ranOn)));
    expect(valueOf(node, 'mlis_build_info', { process: 'node', group: 'gpu', node: ranOn })).toBe(1);
    // Seconds, not milliseconds: on an idle stack an activity starts well within a second of being scheduled.
    const started = valueOf(node, 'temporal_activity_schedule_to_start_latency_seconds_count', { node: ranOn }) ?? 0;
    const startSum = valueOf(node, 'temporal_activity_schedule_to_start_latency_seconds_sum', { node: ranOn }) ?? 0;
    expect(started).toBeGreaterThan(0);
    expect(startSum / started).toBeLessThan(5);
    expect(valueOf(node, 'temporal_worker_task_slots_available', { node: ranOn, worker_type: 'ActivityWorker' })).toBe(2);
  });

  it("a killed node's lost lease shows on control's mlis_lease_losses_total (cause heartbeat_timeout) and its run as outcome LOST", async () => {
    const lost = async () => valueOf(await samplesOf('control'), 'mlis_lease_losses_total', { group: 'cpu', cause: 'heartbeat_timeout' }) ?? 0;
    const before = await lost();
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 6 }, cpu: 1, mem_mb: 256, gpu: 0 });
    const running = await waitForJob(accepted.id, (j) => j.latest_assignment?.state === 'RUNNING');
    const victim = running.latest_assignment.node_id as string;
    killNode(victim);
    await poll('a lease loss on control', async () => ((await lost()) > before ? true : undefined));
    const control = await samplesOf('control');
    expect(valueOf(control, 'mlis_run_duration_seconds_count', { task_type: 'sleep', outcome: 'LOST' })).toBeGreaterThanOrEqual(1);
    expect((await waitForJob(accepted.id, (j) => TERMINAL.includes(j.state))).state).toBe('SUCCEEDED');
    await restartNode(victim);
  });
});
