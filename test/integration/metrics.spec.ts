import { TEMPORAL_SDK_METRICS } from '@mlis/metrics';
import { api, killNode, poll, restartNode, submit, TERMINAL, waitForJob } from './support/api';
import { families, metricsUrl, parseSamples, promtoolCheck, scrape, valueOf, type Sample } from './support/metrics';

async function samplesOf(process: string): Promise<Sample[]> {
  return parseSamples(await scrape(metricsUrl(process)));
}

/** A metric the ledger activities record, summed over the processes that run job workflows: the API and control (ADR 0052). */
async function jobWorkflowsTotal(name: string, labels: Record<string, string>): Promise<number> {
  let total = 0;
  for (const process of ['api', 'control']) total += valueOf(await samplesOf(process), name, labels) ?? 0;
  return total;
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
    // The Temporal SDK's series (ADR 0052) carry the Temporal namespace, named "default" here as the default tenant is.
    const [sdkLines, ownLines] = [text.split('\n').filter((line) => line.startsWith('temporal_')), text.split('\n').filter((line) => !line.startsWith('temporal_'))];
    expect(ownLines.join('\n')).not.toContain('"default"');
    expect(sdkLines.join('\n').replaceAll('namespace="default"', '')).not.toContain('"default"');

    const placedBefore = valueOf(during, 'mlis_scheduler_decisions_total', { outcome: 'placed', reason: 'fit' }) ?? 0;
    const admissionWait = { group: 'gpu' };
    const gpuDemoRun = { task_type: 'gpu_demo', outcome: 'SUCCEEDED' };
    const wait = { count: 'mlis_admission_wait_seconds_count', sum: 'mlis_admission_wait_seconds_sum', runs: 'mlis_run_duration_seconds_count' };
    const before = {
      waits: await jobWorkflowsTotal(wait.count, admissionWait),
      waitSum: await jobWorkflowsTotal(wait.sum, admissionWait),
      runs: await jobWorkflowsTotal(wait.runs, gpuDemoRun),
    };
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
    // start, or by the process whose ledger activity ended the attempt, the API or control, when it ended before the
    // report was due (ADR 0030, ADR 0052); so was its run.
    expect(await jobWorkflowsTotal(wait.count, admissionWait)).toBe(before.waits + 1);
    expect(await jobWorkflowsTotal(wait.sum, admissionWait)).toBeGreaterThan(before.waitSum);
    expect(await jobWorkflowsTotal(wait.runs, gpuDemoRun)).toBe(before.runs + 1);
    const control = await samplesOf('control');
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

  it("every process's /metrics passes promtool check metrics; the API, which ran the job's workflow, and the node carry the Temporal SDK's worker metrics in seconds", async () => {
    const job = await submit({ task_type: 'gpu_demo', params: { seconds: 0.3 }, cpu: 1, mem_mb: 256, gpu: 1 });
    const done = await waitForJob(job.id, (j) => TERMINAL.includes(j.state));
    expect(done.state).toBe('SUCCEEDED');
    const ranOn = done.latest_assignment.node_id as string;

    for (const process of ['api', 'control', 'cpu-1', 'cpu-2', 'gpu-1', 'gpu-2']) {
      const text = await scrape(metricsUrl(process));
      expect({ process, check: promtoolCheck(text) }).toEqual({ process, check: { status: 0, output: '' } });
    }
    // The API started the job's workflow eagerly and ran it (ADR 0052); control serves its worker's slots.
    for (const process of ['api', 'control', ranOn]) {
      const declared = families(await scrape(metricsUrl(process)));
      const expected: readonly string[] =
        process === 'api' ? TEMPORAL_SDK_METRICS.jobWorkflows : process === 'control' ? ['temporal_worker_task_slots_available'] : TEMPORAL_SDK_METRICS.node;
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

  it("a killed node's lost lease shows on mlis_lease_losses_total (cause heartbeat_timeout) and its run as outcome LOST", async () => {
    const lost = () => jobWorkflowsTotal('mlis_lease_losses_total', { group: 'cpu', cause: 'heartbeat_timeout' });
    const lostRuns = () => jobWorkflowsTotal('mlis_run_duration_seconds_count', { task_type: 'sleep', outcome: 'LOST' });
    const before = await lost();
    const runsBefore = await lostRuns();
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 6 }, cpu: 1, mem_mb: 256, gpu: 0 });
    const running = await waitForJob(accepted.id, (j) => j.latest_assignment?.state === 'RUNNING');
    const victim = running.latest_assignment.node_id as string;
    killNode(victim);
    await poll('a lease loss counted', async () => ((await lost()) > before ? true : undefined));
    expect(await lostRuns()).toBe(runsBefore + 1);
    expect((await waitForJob(accepted.id, (j) => TERMINAL.includes(j.state))).state).toBe('SUCCEEDED');
    await restartNode(victim);
  });
});
