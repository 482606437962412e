import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { JobNotFoundError, type AssignmentsRepository, type CycleReason, type EndedAttempt, type SchedulingStore, type StartedAttempt } from '@mlis/db';
import { admissionWait, leaseLosses, preemptions, rankedTenants, runDuration, tenantAdmissionWait, tenantGpuSeconds, tenantRunSeconds } from '@mlis/metrics';
import { createLedgerActivities } from './ledger.activities';

const noCycle = async () => ({ placed: [], preempted: [], waiting: 0 });
const noAssignments = {} as AssignmentsRepository;

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(ApplicationFailure);
  return outcome as ApplicationFailure;
}

describe('placeJob', () => {
  it('fails the job for good when it has no row (the workflow starts only after the row has committed)', async () => {
    const scheduling = {
      placementOf: async (jobId: string) => {
        throw new JobNotFoundError(`job ${jobId} not found`);
      },
    } as unknown as SchedulingStore;
    const { placeJob } = createLedgerActivities({ scheduling, assignments: noAssignments, requestCycle: noCycle, laneWindow: 32 });
    const failure = await failureOf(new MockActivityEnvironment().run(placeJob, { jobId: 'j-1', attempt: 1 }));
    expect(failure).toMatchObject({ type: 'JobNotFound', nonRetryable: true, message: 'job j-1 not found' });
  });
});

/** The sample of a metric with exactly these labels (histograms: their _count), 0 when there is none. */
async function valueOf(
  metric: { get(): Promise<{ values: { value: number; labels: Record<string, unknown>; metricName?: string }[] }> },
  labels: Record<string, string>,
): Promise<number> {
  const same = (actual: Record<string, unknown>) =>
    Object.keys(actual).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => actual[k] === v);
  const { values } = await metric.get();
  const match = values.find((v) => (v.metricName === undefined || v.metricName.endsWith('_count')) && same(v.labels));
  return match?.value ?? 0;
}

describe('ledger activity metrics', () => {
  function activities(started: StartedAttempt | null, ended: EndedAttempt | null) {
    const assignments = {
      markAssignmentRunning: async () => started,
      endAssignment: async () => ({ jobState: 'QUEUED', ended }),
    } as unknown as AssignmentsRepository;
    return createLedgerActivities({
      scheduling: {} as SchedulingStore,
      assignments,
      requestCycle: noCycle,
      laneWindow: 32,
    });
  }
  const env = () => new MockActivityEnvironment();

  it("observes admission wait only for a job's first attempt to run, by group", async () => {
    const before = await valueOf(admissionWait, { group: 'm-gpu' });
    await env().run(activities({ group: 'm-gpu', tenantId: 'm-acme', admissionWaitSeconds: 2.5 }, null).markAssignmentRunning, { jobId: 'j', attempt: 1 });
    await env().run(activities({ group: 'm-gpu', tenantId: 'm-acme', admissionWaitSeconds: null }, null).markAssignmentRunning, { jobId: 'j', attempt: 2 });
    await env().run(activities(null, null).markAssignmentRunning, { jobId: 'j', attempt: 2 });
    expect(await valueOf(admissionWait, { group: 'm-gpu' })).toBe(before + 1);
  });

  it('observes the admission wait of an attempt whose start only its end write recorded (ADR 0030)', async () => {
    const before = await valueOf(admissionWait, { group: 'm-fast' });
    const end = { jobId: 'j', attempt: 1, state: 'SUCCEEDED' as const, jobState: 'SUCCEEDED' as const, ranMs: 12 };
    await env().run(activities(null, { group: 'm-fast', tenantId: 'm-acme', taskType: 'm-sleep', gpus: 0, runSeconds: 0.012, admissionWaitSeconds: 0.3 }).endAssignment, end);
    // Its start reported by the node (or a later attempt): the API observed it, the end write does not.
    await env().run(activities(null, { group: 'm-fast', tenantId: 'm-acme', taskType: 'm-sleep', gpus: 0, runSeconds: 2, admissionWaitSeconds: null }).endAssignment, end);
    expect(await valueOf(admissionWait, { group: 'm-fast' })).toBe(before + 1);
  });

  it('observes admission wait by tenant too: the ranked tenants by id, every other one as other', async () => {
    rankedTenants.rank(['m-ranked']);
    try {
      const before = [await valueOf(tenantAdmissionWait, { tenant: 'm-ranked' }), await valueOf(tenantAdmissionWait, { tenant: 'other' })];
      const started = (tenantId: string) => ({ group: 'm-gpu', tenantId, admissionWaitSeconds: 1 });
      await env().run(activities(started('m-ranked'), null).markAssignmentRunning, { jobId: 'j', attempt: 1 });
      const end = { jobId: 'j', attempt: 1, state: 'SUCCEEDED' as const, jobState: 'SUCCEEDED' as const, ranMs: 12 };
      await env().run(activities(null, { ...started('m-unranked'), taskType: 'm-sleep', gpus: 0, runSeconds: 0.012 }).endAssignment, end);
      expect([await valueOf(tenantAdmissionWait, { tenant: 'm-ranked' }), await valueOf(tenantAdmissionWait, { tenant: 'other' })]).toEqual([
        before[0] + 1,
        before[1] + 1,
      ]);
    } finally {
      rankedTenants.rank([]);
    }
  });

  it('counts run time and GPU-seconds by ranked tenant once per ended attempt that ran, whatever its outcome', async () => {
    rankedTenants.rank(['m-ranked']);
    try {
      const totals = async () => [
        await valueOf(tenantRunSeconds, { tenant: 'm-ranked' }),
        await valueOf(tenantGpuSeconds, { tenant: 'm-ranked' }),
        await valueOf(tenantRunSeconds, { tenant: 'other' }),
        await valueOf(tenantGpuSeconds, { tenant: 'other' }),
      ];
      const before = await totals();
      const ended = (tenantId: string, gpus: number, runSeconds: number | null) => ({ group: 'm-gpu', tenantId, taskType: 'm-sleep', gpus, runSeconds, admissionWaitSeconds: null });
      const end = (state: 'SUCCEEDED' | 'LOST') => ({ jobId: 'j', attempt: 1, state, jobState: state === 'LOST' ? ('QUEUED' as const) : state });
      await env().run(activities(null, ended('m-ranked', 2, 3)).endAssignment, end('SUCCEEDED'));
      await env().run(activities(null, ended('m-ranked', 2, 1.5)).endAssignment, end('LOST'));
      await env().run(activities(null, ended('m-unranked', 0, 4)).endAssignment, end('SUCCEEDED'));
      // Placed but never started, and a retried write that ended nothing: no run time.
      await env().run(activities(null, ended('m-ranked', 2, null)).endAssignment, end('LOST'));
      await env().run(activities(null, null).endAssignment, end('SUCCEEDED'));
      expect(await totals()).toEqual([before[0] + 4.5, before[1] + 9, before[2] + 4, before[3]]);
    } finally {
      rankedTenants.rank([]);
    }
  });

  it('counts a lost lease by group and cause and a preemption by group, and run time by task type and outcome, once per ended attempt', async () => {
    const lostBefore = await valueOf(leaseLosses, { group: 'm-cpu', cause: 'heartbeat_timeout' });
    const preemptedBefore = await valueOf(preemptions, { group: 'm-cpu' });
    const runsBefore = await valueOf(runDuration, { outcome: 'LOST', task_type: 'm-sleep' });
    const end = (state: 'LOST' | 'PREEMPTED') => ({ jobId: 'j', attempt: 1, state, jobState: 'QUEUED' as const, ...(state === 'LOST' ? { lossCause: 'heartbeat_timeout' as const } : {}) });
    await env().run(activities(null, { group: 'm-cpu', tenantId: 'm-acme', taskType: 'm-sleep', gpus: 0, runSeconds: 4, admissionWaitSeconds: null }).endAssignment, end('LOST'));
    // Placed but never started: a loss, no run time.
    await env().run(activities(null, { group: 'm-cpu', tenantId: 'm-acme', taskType: 'm-sleep', gpus: 0, runSeconds: null, admissionWaitSeconds: null }).endAssignment, end('LOST'));
    // A retried write that ended nothing counts nothing.
    await env().run(activities(null, null).endAssignment, end('LOST'));
    await env().run(activities(null, { group: 'm-cpu', tenantId: 'm-acme', taskType: 'm-sleep', gpus: 0, runSeconds: 1, admissionWaitSeconds: null }).endAssignment, end('PREEMPTED'));
    expect(await valueOf(leaseLosses, { group: 'm-cpu', cause: 'heartbeat_timeout' })).toBe(lostBefore + 2);
    // From a workflow that started before the cause was recorded.
    const unknownBefore = await valueOf(leaseLosses, { group: 'm-cpu', cause: 'unknown' });
    await env().run(activities(null, { group: 'm-cpu', tenantId: 'm-acme', taskType: 'm-sleep', gpus: 0, runSeconds: null, admissionWaitSeconds: null }).endAssignment, { ...end('LOST'), lossCause: undefined });
    expect(await valueOf(leaseLosses, { group: 'm-cpu', cause: 'unknown' })).toBe(unknownBefore + 1);
    expect(await valueOf(preemptions, { group: 'm-cpu' })).toBe(preemptedBefore + 1);
    expect(await valueOf(runDuration, { outcome: 'LOST', task_type: 'm-sleep' })).toBe(runsBefore + 1);
  });
});

describe('the scheduling cycle a ledger write asks for', () => {
  const ended: EndedAttempt = { group: 'c-cpu', tenantId: 'c-acme', taskType: 'c-sleep', gpus: 0, runSeconds: 1, admissionWaitSeconds: null };

  function activities(answer: { jobState: string; ended?: EndedAttempt | null; released?: boolean }, reasons: CycleReason[]) {
    const assignments = {
      endAssignment: async () => ({ jobState: answer.jobState, ended: answer.ended ?? null }),
      finishJob: async () => ({ jobState: answer.jobState, released: answer.released ?? false }),
    } as unknown as AssignmentsRepository;
    const requestCycle = async (reason: CycleReason) => {
      reasons.push(reason);
      return { placed: [], preempted: [], waiting: 0 };
    };
    return createLedgerActivities({ scheduling: {} as SchedulingStore, assignments, requestCycle, laneWindow: 32 });
  }

  it("asks a job's cycle when the job is back in the queue, a capacity cycle when an attempt only released its resources, none when nothing changed (ADR 0046)", async () => {
    const reasons: CycleReason[] = [];
    const end = (state: 'SUCCEEDED' | 'LOST', jobState: 'SUCCEEDED' | 'QUEUED') => ({ jobId: 'j', attempt: 1, state, jobState });
    await new MockActivityEnvironment().run(activities({ jobState: 'SUCCEEDED', ended }, reasons).endAssignment, end('SUCCEEDED', 'SUCCEEDED'));
    await new MockActivityEnvironment().run(activities({ jobState: 'QUEUED', ended }, reasons).endAssignment, end('LOST', 'QUEUED'));
    // A retried write: the release happened at the first, but the job still waits for its next attempt's placement.
    await new MockActivityEnvironment().run(activities({ jobState: 'QUEUED' }, reasons).endAssignment, end('LOST', 'QUEUED'));
    await new MockActivityEnvironment().run(activities({ jobState: 'SUCCEEDED' }, reasons).endAssignment, end('SUCCEEDED', 'SUCCEEDED'));
    await new MockActivityEnvironment().run(activities({ jobState: 'CANCELLED', released: true }, reasons).finishJob, { jobId: 'j', state: 'CANCELLED' as const });
    await new MockActivityEnvironment().run(activities({ jobState: 'CANCELLED', released: false }, reasons).finishJob, { jobId: 'j', state: 'CANCELLED' as const });
    expect(reasons).toEqual(['capacity', 'job', 'job', 'capacity']);
  });
});
