import { Client, Connection } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { temporal as proto } from '@temporalio/proto';
import { jobWorkflowId } from '@mlis/contracts';
import { api, env, poll, stackNodesLive, submit, TERMINAL, waitForJob, withDb } from './support/api';
import { metricsUrl, parseSamples, scrape, valueOf } from './support/metrics';
import { stack, stackPid, type StackEnv } from './support/stack-env';

// The API runs job workflows too: it starts the workflow of each job it accepts eagerly, its first task in the start's
// answer, and runs it in its own worker; control's worker takes what no API does (ADR 0052).
describe('job workflows in the API', () => {
  jest.setTimeout(120_000);
  let temporal: Client;

  beforeAll(async () => {
    temporal = new Client({ connection: await Connection.connect({ address: env.temporalAddress }) });
  });

  afterAll(async () => {
    await temporal.connection.close();
  });

  /** The job workflow's history, read through the Temporal client. */
  async function historyEvents(jobId: string): Promise<proto.api.history.v1.IHistoryEvent[]> {
    const { events } = await temporal.workflow.getHandle(jobWorkflowId(jobId)).fetchHistory();
    return events ?? [];
  }

  /** The identities of the workers that ran each of the job's workflow tasks, in order. */
  function workflowTaskWorkers(events: proto.api.history.v1.IHistoryEvent[]): string[] {
    return events.flatMap((event) => (event.workflowTaskStartedEventAttributes ? [String(event.workflowTaskStartedEventAttributes.identity)] : []));
  }

  async function eagerStarts(): Promise<number> {
    return valueOf(parseSamples(await scrape(metricsUrl('api'))), 'mlis_job_workflow_starts_total', { first_task: 'eager' }) ?? 0;
  }

  /** The job's state once final, read from the ledger (the API may be down); undefined until then. */
  function finalStateInLedger(jobId: string): Promise<string | undefined> {
    return withDb(async (db) => {
      const { rows } = await db.query('SELECT state FROM jobs WHERE id = $1', [jobId]);
      return TERMINAL.includes(rows[0]?.state) ? (rows[0].state as string) : undefined;
    });
  }

  /** Restarts the stack's API with `extra` in its environment; the nodes keep their registrations. */
  async function restartApi(extra: Record<string, string>): Promise<void> {
    const withExtra: StackEnv = { ...env, processEnv: { ...env.processEnv, ...extra } };
    stack(withExtra, 'stop-replica', 'api', '1');
    stack(withExtra, 'start-replica', 'api', '1');
    await apiBack();
  }

  /**
   * Until the API answers, on a new connection (a kept-alive one went with the process that stopped), and the nodes the
   * outage had marked DEAD have registered again.
   */
  async function apiBack(): Promise<void> {
    await poll('the API ready', async () => ((await api('GET', '/health/ready').catch(() => ({ status: 0 }))).status === 200 ? true : undefined));
    await stackNodesLive();
  }

  it("runs a job's workflow in the API that accepted it: the first task came back with the start (its identity the starter's), the next ran there", async () => {
    const before = await eagerStarts();
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 0.05 } });
    expect((await waitForJob(accepted.id, (j) => TERMINAL.includes(j.state))).state).toBe('SUCCEEDED');
    expect(await eagerStarts()).toBe(before + 1);
    const apiWorker = new RegExp(`^api:${stackPid(env, 'api')}@`);
    const workers = workflowTaskWorkers(await historyEvents(accepted.id));
    expect(workers).toHaveLength(2);
    for (const worker of workers) expect(worker).toMatch(apiWorker);
  });

  it('runs jobs end to end while control is down', async () => {
    stack(env, 'stop-replica', 'control', '1');
    try {
      const accepted = await submit({ task_type: 'sleep', params: { seconds: 0.05 } });
      expect((await waitForJob(accepted.id, (j) => TERMINAL.includes(j.state))).state).toBe('SUCCEEDED');
    } finally {
      stack(env, 'start-replica', 'control', '1');
    }
  });

  it('a job whose API stops while it runs is finished by control', async () => {
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 2 } });
    await waitForJob(accepted.id, (j) => j.state === 'RUNNING');
    const apiPid = stackPid(env, 'api');
    stack(env, 'stop-replica', 'api', '1');
    try {
      const state = await poll(`job ${accepted.id} final in the ledger`, () => finalStateInLedger(accepted.id));
      expect(state).toBe('SUCCEEDED');
    } finally {
      stack(env, 'start-replica', 'api', '1');
      await apiBack();
    }
    const events = await historyEvents(accepted.id);
    const workers = workflowTaskWorkers(events);
    expect(workers[0]).toMatch(new RegExp(`^api:${apiPid}@`));
    expect(workers.at(-1)).toMatch(/^control:\d+@/);
  });

  it('a job whose API is killed (-9) while it runs is finished by another worker once its task leaves the dead sticky queue, after the lease', async () => {
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 1 } });
    // Killed once the node runs the attempt, so after the workflow's first task: a kill during that task (the job is
    // RUNNING in the ledger from its placement on) leaves it to the workflow task timeout instead, 10 s.
    await waitForJob(accepted.id, (j) => j.latest_assignment?.state === 'RUNNING');
    const apiPid = stackPid(env, 'api');
    process.kill(apiPid, 'SIGKILL');
    const state = await poll(`job ${accepted.id} final in the ledger`, () => finalStateInLedger(accepted.id));
    expect(state).toBe('SUCCEEDED');
    // Its supervisor starts the API again.
    await poll('the API restarted', async () => (stackPid(env, 'api') !== apiPid ? true : undefined));
    await apiBack();
    const events = await historyEvents(accepted.id);
    const workers = workflowTaskWorkers(events);
    expect(workers[0]).toMatch(new RegExp(`^api:${apiPid}@`));
    expect(workers.at(-1)).not.toMatch(new RegExp(`^api:${apiPid}@`));
    // The task the dead worker's sticky queue held timed out there after the stack's lease (MLIS_LEASE_SECONDS), not
    // after the SDK's default of 10 s: the server's timer fires at the lease, give or take its timer queue's delay.
    const stickyTimeouts = events.filter(
      (event) => event.workflowTaskTimedOutEventAttributes?.timeoutType === proto.api.enums.v1.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START,
    );
    expect(stickyTimeouts).toHaveLength(1);
    const scheduled = events.find((event) => Number(event.eventId) === Number(stickyTimeouts[0].workflowTaskTimedOutEventAttributes?.scheduledEventId));
    const waitedMs = tsToMs(stickyTimeouts[0].eventTime) - tsToMs(scheduled?.eventTime);
    expect(waitedMs).toBeGreaterThanOrEqual(Number(env.processEnv.MLIS_LEASE_SECONDS) * 1000);
    expect(waitedMs).toBeLessThan(10_000);
  });

  it('with MLIS_API_JOB_WORKFLOWS=false the API runs none and serves no workflow metrics; control runs the job', async () => {
    await restartApi({ MLIS_API_JOB_WORKFLOWS: 'false' });
    try {
      const accepted = await submit({ task_type: 'sleep', params: { seconds: 0.05 } });
      expect((await waitForJob(accepted.id, (j) => TERMINAL.includes(j.state))).state).toBe('SUCCEEDED');
      const workers = workflowTaskWorkers(await historyEvents(accepted.id));
      expect(workers.length).toBeGreaterThanOrEqual(2);
      for (const worker of workers) expect(worker).toMatch(/^control:\d+@/);
      const samples = parseSamples(await scrape(metricsUrl('api')));
      expect(valueOf(samples, 'mlis_job_workflow_starts_total', { first_task: 'queued' })).toBeGreaterThanOrEqual(1);
      expect(valueOf(samples, 'mlis_job_workflow_starts_total', { first_task: 'eager' })).toBeUndefined();
      expect(samples.filter((sample) => sample.name.startsWith('mlis_run_duration_seconds') || sample.name.startsWith('temporal_'))).toEqual([]);
    } finally {
      await restartApi({});
    }
  });
});
