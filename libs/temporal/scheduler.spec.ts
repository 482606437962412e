import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { AssignmentsRepository, CycleOutcome, JobRecord, SchedulingStore } from '@mlis/db';
import { schedulerCycleChecks, schedulerCycleDuration } from '@mlis/metrics';
import type { JobToStart } from './job-workflow-starter';
import { Scheduler } from './scheduler';

const OPTIONS = { liveWithinSeconds: 15, agingSeconds: 600, laneWindow: 32, holdDepth: 16 };

/** A ledger whose cycles stay open until the test ends them, so requests can pile up during one. */
class GatedLedger {
  cycles = 0;
  finished: unknown[] = [];
  private gates: (() => void)[] = [];
  outcome: CycleOutcome = { placed: [], preempted: [], waiting: 0 };
  /** What anyJobWaits answers, and how often it was asked. */
  jobsWait = true;
  checks = 0;

  async anyJobWaits(): Promise<boolean> {
    this.checks += 1;
    return this.jobsWait;
  }

  async runCycle(): Promise<CycleOutcome> {
    this.cycles += 1;
    await new Promise<void>((resolve) => this.gates.push(resolve));
    return this.outcome;
  }

  stale: string[] = [];
  /** What placementOf answers per job; a job not listed is new: no cycle has looked at it. */
  reads = new Map<string, Awaited<ReturnType<SchedulingStore['placementOf']>>>();

  placementReads = 0;

  async placementOf(jobId: string): ReturnType<SchedulingStore['placementOf']> {
    this.placementReads += 1;
    return this.reads.get(jobId) ?? { placed: false, pendingReason: 'queued', detail: 'not examined by the scheduler yet', queuePosition: null, examined: false };
  }

  async stalePlacements(): Promise<string[]> {
    return this.stale;
  }

  stalePreemptionRequests: { jobId: string; attempt: number }[] = [];

  async stalePreemptions(): Promise<{ jobId: string; attempt: number }[]> {
    return this.stalePreemptionRequests;
  }

  onGoneNodes: { jobId: string; attempt: number }[] = [];
  goneSettledSeconds: number[] = [];

  async placementsOnGoneNodes(settledSeconds: number): Promise<{ jobId: string; attempt: number }[]> {
    this.goneSettledSeconds.push(settledSeconds);
    return this.onGoneNodes;
  }

  withdrawn = 0;

  async withdrawStalePreemptions(): Promise<number> {
    this.withdrawn += 1;
    return 0;
  }

  async findById(_tenantId: string | null, id: string): Promise<JobRecord | null> {
    return { job: { id }, assignments: [] } as unknown as JobRecord;
  }

  /** What `finishJob` answers: by default the job ends FAILED and its placement is released. */
  finishAnswer = { jobState: 'FAILED', released: true };

  async finishJob(input: unknown): Promise<{ jobState: string; released: boolean }> {
    this.finished.push(input);
    return this.finishAnswer;
  }

  finishCycle(): void {
    this.gates.shift()?.();
  }
}

function fakeClient(signalled: string[], failFor = new Map<string, Error>()): Client {
  return {
    workflow: {
      getHandle: (workflowId: string) => ({
        signal: async (signal: { name: string }, arg?: unknown) => {
          const failure = failFor.get(workflowId);
          if (failure) throw failure;
          signalled.push(`${workflowId} ${signal.name}${arg ? ` ${JSON.stringify(arg)}` : ''}`);
        },
      }),
    },
  } as unknown as Client;
}

/** Starts the workflows of `neverStarted` with the placement signal; any other job's workflow has closed. */
function fakeStarter(started: string[], neverStarted: string[] = []) {
  return {
    signalPlaced: async (job: JobToStart) => {
      if (!neverStarted.includes(job.id)) return false;
      started.push(job.id);
      return true;
    },
  };
}

function schedulerOver(ledger: GatedLedger, client: Client, warn: (line: string) => void = () => undefined, starter = fakeStarter([])): Scheduler {
  return new Scheduler(
    ledger as unknown as SchedulingStore,
    ledger as unknown as AssignmentsRepository,
    ledger,
    client,
    starter,
    OPTIONS,
    warn,
  );
}

function placedJob(jobId: string, waited: boolean, attempt = 1): CycleOutcome['placed'][number] {
  const placement = { assignmentId: `assignment-of-${jobId}`, attempt, nodeId: 'node-1', group: 'default', taskQueue: 'mlis-node-default-node-1', gpuIds: [] };
  return { jobId, attempt, waited, placement };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe(Scheduler.name, () => {
  it('shares one follow-up cycle among every request made while a cycle runs', async () => {
    const ledger = new GatedLedger();
    const scheduler = schedulerOver(ledger, fakeClient([]));
    const first = scheduler.requestCycle('job');
    const during = [scheduler.requestCycle('job'), scheduler.requestCycle('capacity'), scheduler.requestCycle('timer')];
    expect(ledger.cycles).toBe(1);

    ledger.finishCycle();
    await first;
    await settle();
    // The three requests made during the first cycle need a cycle that started after them: one, shared.
    expect(ledger.cycles).toBe(2);
    ledger.finishCycle();
    await Promise.all(during);
    expect(ledger.cycles).toBe(2);
  });

  it('checks that a job waits before a cycle that only freed capacity asked for, and ends there when none does', async () => {
    const checked = async (result: string) => (await schedulerCycleChecks.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
    const [waitedBefore, nothingBefore] = [await checked('job_waits'), await checked('nothing_waits')];
    const ledger = new GatedLedger();
    const scheduler = schedulerOver(ledger, fakeClient([]));
    ledger.jobsWait = false;
    await expect(scheduler.requestCycle('capacity')).resolves.toEqual({ placed: [], preempted: [], waiting: 0 });
    expect([ledger.checks, ledger.cycles]).toEqual([1, 0]);

    // A job waits (or the last queue order lists one): the cycle runs.
    ledger.jobsWait = true;
    const freed = scheduler.requestCycle('capacity');
    await settle();
    expect([ledger.checks, ledger.cycles]).toEqual([2, 1]);
    ledger.finishCycle();
    await expect(freed).resolves.toBe(ledger.outcome);

    // A job that waits for the cycle, and the timer's cycle (the scheduler's sign of life), run with no check.
    ledger.jobsWait = false;
    const forJob = scheduler.requestCycle('job');
    expect([ledger.checks, ledger.cycles]).toEqual([2, 2]);
    ledger.finishCycle();
    await forJob;
    const timer = scheduler.requestCycle('timer');
    expect([ledger.checks, ledger.cycles]).toEqual([2, 3]);
    ledger.finishCycle();
    await timer;
    // mlis_scheduler_cycle_checks_total counts each check by what it found.
    expect([(await checked('job_waits')) - waitedBefore, (await checked('nothing_waits')) - nothingBefore]).toEqual([1, 1]);
  });

  it('runs the shared follow-up cycle in full when any of the requests that share it needs it so', async () => {
    const ledger = new GatedLedger();
    ledger.jobsWait = false;
    const scheduler = schedulerOver(ledger, fakeClient([]));
    const first = scheduler.requestCycle('job');
    const during = [scheduler.requestCycle('capacity'), scheduler.requestCycle('timer'), scheduler.requestCycle('capacity')];
    ledger.finishCycle();
    await first;
    await settle();
    expect([ledger.checks, ledger.cycles]).toEqual([0, 2]);
    ledger.finishCycle();
    await Promise.all(during);

    // Only freed capacity asked: the follow-up checks, and with no job waiting ends there.
    const again = scheduler.requestCycle('job');
    const after = [scheduler.requestCycle('capacity'), scheduler.requestCycle('capacity')];
    ledger.finishCycle();
    await again;
    await expect(Promise.all(after)).resolves.toEqual([
      { placed: [], preempted: [], waiting: 0 },
      { placed: [], preempted: [], waiting: 0 },
    ]);
    expect([ledger.checks, ledger.cycles]).toEqual([1, 3]);
  });

  it('signals the waiting jobs it placed and the attempts it preempts; starts a workflow that never started; releases a placement whose workflow is gone; warns on other failures', async () => {
    const ledger = new GatedLedger();
    ledger.outcome = {
      placed: [
        placedJob('a', true),
        // Placed at its first look: its workflow starts with the placement or reads it in awaitPlacement, no signal.
        placedJob('fresh', false),
        placedJob('gone', true),
        // Accepted, but its API has not started (or never will start) its workflow.
        placedJob('unstarted', true),
        placedJob('broken', true),
      ],
      preempted: [{ jobId: 'low', attempt: 3, forJobId: 'a' }],
      waiting: 0,
    };
    const signalled: string[] = [];
    const warnings: string[] = [];
    const failures = new Map<string, Error>([
      ['job-gone', new WorkflowNotFoundError('gone', 'job-gone', undefined)],
      ['job-unstarted', new WorkflowNotFoundError('not found', 'job-unstarted', undefined)],
      ['job-broken', new Error('temporal unavailable')],
    ]);
    const started: string[] = [];
    const scheduler = schedulerOver(ledger, fakeClient(signalled, failures), (w) => warnings.push(w), fakeStarter(started, ['unstarted']));
    const cycle = scheduler.requestCycle('job');
    ledger.finishCycle();
    await expect(cycle).resolves.toBe(ledger.outcome);
    expect(signalled).toEqual(['job-a capacityAvailable', 'job-low preemptAssignment {"attempt":3}']);
    expect(started).toEqual(['unstarted']);
    expect(ledger.finished).toEqual([
      {
        jobId: 'gone',
        state: 'FAILED',
        error: { code: 'WorkflowGone', message: expect.any(String) },
        reason: 'its job workflow closed without ending it (terminated or timed out)',
      },
    ]);
    expect(warnings).toEqual([
      "job gone's workflow is gone: the job ended FAILED (WorkflowGone), its placement released",
      expect.stringContaining('job unstarted was placed before its workflow had started: started it'),
      expect.stringContaining('temporal unavailable'),
    ]);
  });

  it('gives a new job its first placement: read back when a cycle placed it already, else from a cycle that started after the request', async () => {
    const ledger = new GatedLedger();
    const scheduler = schedulerOver(ledger, fakeClient([]));
    ledger.reads.set('placed-elsewhere', { placed: true, placement: placedJob('placed-elsewhere', false).placement, examined: true });
    ledger.reads.set('waiting', { placed: false, pendingReason: 'insufficient_capacity', detail: 'full', queuePosition: 3, examined: true });
    // Placed or left waiting by an earlier cycle (of any process): no cycle for it.
    await expect(scheduler.placeNewJob('placed-elsewhere')).resolves.toEqual(placedJob('placed-elsewhere', false).placement);
    await expect(scheduler.placeNewJob('waiting')).resolves.toBeUndefined();
    expect(ledger.cycles).toBe(0);

    const running = scheduler.requestCycle('capacity');
    // Asked while a cycle runs that does not place it (it read the queue before the job's row committed): answered by
    // the next one.
    const placing = scheduler.placeNewJob('new');
    const raced = scheduler.placeNewJob('raced');
    await settle();
    ledger.finishCycle();
    await running;
    ledger.outcome = { placed: [placedJob('other', false), placedJob('new', false)], preempted: [], waiting: 0 };
    // Another process's cycle placed this one between the first read and ours: it is read back.
    ledger.reads.set('raced', { placed: true, placement: placedJob('raced', false).placement, examined: true });
    await settle();
    expect(ledger.cycles).toBe(2);
    ledger.finishCycle();
    await expect(placing).resolves.toEqual(placedJob('new', false).placement);
    await expect(raced).resolves.toEqual(placedJob('raced', false).placement);
  });

  it('answers a new job from the cycle under way when that placed it, and runs no follow-up that only such jobs asked for (ADR 0047)', async () => {
    const ledger = new GatedLedger();
    const scheduler = schedulerOver(ledger, fakeClient([]));
    const placementOf = (jobId: string) => placedJob(jobId, false).placement;
    // Their rows committed before the cycle under way read the queue: it places them, and nothing asks for another.
    let underWay = scheduler.requestCycle('job');
    const early = [scheduler.placeNewJob('early-1'), scheduler.placeNewJob('early-2')];
    await settle();
    ledger.outcome = { placed: [placedJob('early-1', false), placedJob('early-2', false)], preempted: [], waiting: 0 };
    ledger.finishCycle();
    await underWay;
    await expect(Promise.all(early)).resolves.toEqual([placementOf('early-1'), placementOf('early-2')]);
    expect([ledger.cycles, ledger.placementReads]).toEqual([1, 2]);

    // One it did not place needs the follow-up, which runs; the one it placed still has its placement, with no read.
    underWay = scheduler.requestCycle('job');
    const placedEarlier = scheduler.placeNewJob('placed-earlier');
    const late = scheduler.placeNewJob('late');
    await settle();
    ledger.outcome = { placed: [placedJob('placed-earlier', false)], preempted: [], waiting: 0 };
    ledger.finishCycle();
    await underWay;
    await settle();
    expect(ledger.cycles).toBe(3);
    ledger.outcome = { placed: [placedJob('late', false)], preempted: [], waiting: 0 };
    ledger.finishCycle();
    await expect(Promise.all([placedEarlier, late])).resolves.toEqual([placementOf('placed-earlier'), placementOf('late')]);
    expect(ledger.placementReads).toBe(4);

    // Any other request sharing the follow-up gets a cycle that started after it, whatever the one under way placed.
    underWay = scheduler.requestCycle('job');
    const placedBefore = scheduler.placeNewJob('placed-before');
    await settle();
    const capacity = scheduler.requestCycle('capacity');
    ledger.outcome = { placed: [placedJob('placed-before', false)], preempted: [], waiting: 0 };
    ledger.finishCycle();
    await underWay;
    await settle();
    expect(ledger.cycles).toBe(5);
    ledger.outcome = { placed: [], preempted: [], waiting: 0 };
    ledger.finishCycle();
    await expect(capacity).resolves.toEqual({ placed: [], preempted: [], waiting: 0 });
    await expect(placedBefore).resolves.toEqual(placementOf('placed-before'));
  });

  it('does not read the placement of a job its caller inserted just now before the cycle; the read after it finds one another process made', async () => {
    const ledger = new GatedLedger();
    const scheduler = schedulerOver(ledger, fakeClient([]));
    ledger.outcome = { placed: [placedJob('fresh', false)], preempted: [], waiting: 0 };
    const fresh = scheduler.placeNewJob('fresh', { insertedJustNow: true });
    await settle();
    expect([ledger.cycles, ledger.placementReads]).toEqual([1, 0]);
    ledger.finishCycle();
    await expect(fresh).resolves.toEqual(placedJob('fresh', false).placement);
    expect(ledger.placementReads).toBe(0);

    // Another process's cycle placed it between its insert and this request: this cycle does not, the read after it does.
    ledger.outcome = { placed: [], preempted: [], waiting: 0 };
    ledger.reads.set('placed-elsewhere', { placed: true, placement: placedJob('placed-elsewhere', false).placement, examined: true });
    const elsewhere = scheduler.placeNewJob('placed-elsewhere', { insertedJustNow: true });
    await settle();
    ledger.finishCycle();
    await expect(elsewhere).resolves.toEqual(placedJob('placed-elsewhere', false).placement);
    expect([ledger.cycles, ledger.placementReads]).toEqual([2, 1]);
  });

  it('signals placements that never started again, and releases one whose workflow is gone', async () => {
    const ledger = new GatedLedger();
    ledger.stale = ['late', 'gone'];
    const signalled: string[] = [];
    const failures = new Map<string, Error>([['job-gone', new WorkflowNotFoundError('gone', 'job-gone', undefined)]]);
    const scheduler = schedulerOver(ledger, fakeClient(signalled, failures));
    expect(await scheduler.nudgeStalePlacements(40)).toBe(2);
    expect(signalled).toEqual(['job-late capacityAvailable']);
    expect(ledger.finished).toEqual([expect.objectContaining({ jobId: 'gone', state: 'FAILED' })]);
  });

  it('says so when the workflow that is gone had ended its job itself (a cancel that raced the placing cycle)', async () => {
    const ledger = new GatedLedger();
    ledger.stale = ['cancelled'];
    ledger.finishAnswer = { jobState: 'CANCELLED', released: false };
    const warnings: string[] = [];
    const failures = new Map<string, Error>([['job-cancelled', new WorkflowNotFoundError('closed', 'job-cancelled', undefined)]]);
    const scheduler = schedulerOver(ledger, fakeClient([], failures), (line) => warnings.push(line));
    expect(await scheduler.nudgeStalePlacements(40)).toBe(1);
    expect(warnings).toEqual(["job cancelled's workflow is gone: the job is CANCELLED, no placement left to release"]);
  });

  it('asks stale preemption victims again, and skips one whose workflow is not running', async () => {
    const ledger = new GatedLedger();
    ledger.stalePreemptionRequests = [
      { jobId: 'victim', attempt: 2 },
      { jobId: 'unstarted', attempt: 1 },
    ];
    const signalled: string[] = [];
    const warnings: string[] = [];
    const failures = new Map<string, Error>([['job-unstarted', new WorkflowNotFoundError('not started', 'job-unstarted', undefined)]]);
    const started: string[] = [];
    const scheduler = schedulerOver(ledger, fakeClient(signalled, failures), (line) => warnings.push(line), fakeStarter(started, ['unstarted']));
    expect(await scheduler.resendStalePreemptions(10)).toBe(2);
    expect(ledger.withdrawn).toBe(1);
    expect(signalled).toEqual(['job-victim preemptAssignment {"attempt":2}']);
    // Not started, not released: a placement is the stale-placement nudge's to start; the request goes again next tick.
    expect(started).toEqual([]);
    expect(ledger.finished).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('tells the workflows of attempts placed on gone nodes to withdraw them; one not started yet hears it from a later pass (ADR 0038)', async () => {
    const ledger = new GatedLedger();
    ledger.onGoneNodes = [
      { jobId: 'stranded', attempt: 2 },
      { jobId: 'unstarted', attempt: 1 },
      { jobId: 'unreachable', attempt: 1 },
    ];
    const signalled: string[] = [];
    const warnings: string[] = [];
    const failures = new Map<string, Error>([
      ['job-unstarted', new WorkflowNotFoundError('not started', 'job-unstarted', undefined)],
      ['job-unreachable', new Error('14 UNAVAILABLE')],
    ]);
    const started: string[] = [];
    const scheduler = schedulerOver(ledger, fakeClient(signalled, failures), (line) => warnings.push(line), fakeStarter(started, ['unstarted']));
    expect(await scheduler.withdrawPlacementsOnGoneNodes(2)).toBe(3);
    expect(ledger.goneSettledSeconds).toEqual([2]);
    expect(signalled).toEqual(['job-stranded nodeGone {"attempt":2}']);
    // Neither started nor released: starting a placed job's workflow is the stale-placement nudge's work.
    expect(started).toEqual([]);
    expect(ledger.finished).toEqual([]);
    expect(warnings).toEqual(['signal nodeGone to job unreachable failed (sent again by a later pass): Error: 14 UNAVAILABLE']);
  });

  it('ends the live jobs whose workflow was terminated or timed out, not a finished one, one reset to run again, nor another workflow', async () => {
    const ledger = new GatedLedger();
    const states = new Map([
      ['terminated', 'RUNNING'],
      ['queued', 'QUEUED'],
      ['reset', 'RUNNING'],
      ['done', 'SUCCEEDED'],
    ]);
    ledger.findById = async (_tenant, id) => (states.has(id) ? ({ job: { id, state: states.get(id) }, assignments: [] } as unknown as JobRecord) : null);
    const queries: string[] = [];
    const described: string[] = [];
    const client = {
      workflow: {
        list: ({ query }: { query: string }) => {
          queries.push(query);
          return (async function* () {
            for (const workflowId of ['job-terminated', 'job-queued', 'job-reset', 'job-done', 'job-gone', 'nightly-report']) yield { workflowId };
          })();
        },
        getHandle: (workflowId: string) => ({
          describe: async () => {
            described.push(workflowId);
            return { status: { name: workflowId === 'job-reset' ? 'RUNNING' : 'TERMINATED' } };
          },
        }),
      },
    } as unknown as Client;
    const warnings: string[] = [];

    expect(await schedulerOver(ledger, client, (line) => warnings.push(line)).releaseClosedWorkflows(60)).toBe(2);

    expect(queries).toHaveLength(1);
    expect(queries[0]).toMatch(/^WorkflowType = 'jobWorkflow' AND \(ExecutionStatus = 'Terminated' OR ExecutionStatus = 'TimedOut'\) AND CloseTime >= '20\d\d-/);
    // Only the live jobs' workflows are described; the finished job and the job with no row are not.
    expect(described).toEqual(['job-terminated', 'job-queued', 'job-reset']);
    expect(ledger.finished).toEqual([
      expect.objectContaining({ jobId: 'terminated', state: 'FAILED', error: expect.objectContaining({ code: 'WorkflowGone' }) }),
      expect.objectContaining({ jobId: 'queued', state: 'FAILED' }),
    ]);
    expect(warnings).toHaveLength(2);
  });

  /** A client whose visibility list answers `runs()` at every call (newest first), every listed workflow closed. */
  function closedRunsClient(runs: () => { workflowId: string; runId: string; closeTime: Date }[]): Client {
    return {
      workflow: {
        list: () =>
          (async function* () {
            yield* runs();
          })(),
        getHandle: () => ({ describe: async () => ({ status: { name: 'TERMINATED' } }) }),
      },
    } as unknown as Client;
  }

  it('reaches the older runs of a mass termination at later calls, reading each settled run from the ledger once', async () => {
    const ledger = new GatedLedger();
    const closeTime = new Date();
    // 1,500 newest runs whose jobs an earlier call ended, then 150 older ones whose jobs are still live.
    const endedBefore = Array.from({ length: 1_500 }, (_, i) => ({ workflowId: `job-ended-${i}`, runId: `run-${i}`, closeTime }));
    const live = Array.from({ length: 150 }, (_, i) => ({ workflowId: `job-live-${i}`, runId: `run-${i}`, closeTime }));
    const reads: string[] = [];
    ledger.findById = async (_tenant, id) => {
      reads.push(id);
      const state = id.startsWith('live-') && !ledger.finished.some((f) => (f as { jobId: string }).jobId === id) ? 'RUNNING' : 'FAILED';
      return { job: { id, state }, assignments: [] } as unknown as JobRecord;
    };
    const scheduler = schedulerOver(ledger, closedRunsClient(() => [...endedBefore, ...live]));

    // The first call checks 1,000 runs, all settled already; the second passes over them, checks the other 500 and
    // ends 100 live jobs (a call's most); the third ends the last 50.
    expect(await scheduler.releaseClosedWorkflows(600)).toBe(0);
    expect(reads).toHaveLength(1_000);
    expect(await scheduler.releaseClosedWorkflows(600)).toBe(100);
    expect(reads).toHaveLength(1_600);
    expect(await scheduler.releaseClosedWorkflows(600)).toBe(50);
    expect(reads).toHaveLength(1_650);
    expect(ledger.finished.map((f) => (f as { jobId: string }).jobId)).toEqual(live.map((_, i) => `live-${i}`));
    // Everything listed is settled: a fourth call reads nothing from the ledger.
    expect(await scheduler.releaseClosedWorkflows(600)).toBe(0);
    expect(reads).toHaveLength(1_650);
  });

  it('checks a run again when its release failed, and forgets settled runs once they close before the window', async () => {
    const ledger = new GatedLedger();
    const reads: string[] = [];
    ledger.findById = async (_tenant, id) => {
      reads.push(id);
      const state = ledger.finished.some((f) => (f as { jobId: string }).jobId === id) ? 'FAILED' : 'RUNNING';
      return { job: { id, state }, assignments: [] } as unknown as JobRecord;
    };
    let failing = true;
    ledger.finishJob = async (input) => {
      if (failing) throw new Error('connection terminated');
      ledger.finished.push(input);
      return ledger.finishAnswer;
    };
    // Closed 20 minutes ago: listed here (a visibility store's clock may differ), but outside a 10-minute window.
    const old = { workflowId: 'job-old', runId: 'run-1', closeTime: new Date(Date.now() - 1_200_000) };
    const recent = { workflowId: 'job-recent', runId: 'run-1', closeTime: new Date() };
    const warnings: string[] = [];
    const scheduler = schedulerOver(ledger, closedRunsClient(() => [recent, old]), (line) => warnings.push(line));

    expect(await scheduler.releaseClosedWorkflows(600)).toBe(0);
    expect(reads).toEqual(['recent', 'old']);
    expect(warnings).toEqual([expect.stringContaining('failed: Error: connection terminated'), expect.stringContaining('failed: Error: connection terminated')]);
    failing = false;
    expect(await scheduler.releaseClosedWorkflows(600)).toBe(2);
    expect(reads).toEqual(['recent', 'old', 'recent', 'old']);
    // Both settled now; the old run is forgotten at the next call (it closed before the window), so it is read again.
    expect(await scheduler.releaseClosedWorkflows(600)).toBe(0);
    expect(reads).toEqual(['recent', 'old', 'recent', 'old', 'old']);
  });

  it('observes every cycle it runs, a failed one too, in mlis_scheduler_cycle_duration_seconds', async () => {
    const count = async () => (await schedulerCycleDuration.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
    const before = await count();
    const ledger = new GatedLedger();
    const scheduler = schedulerOver(ledger, fakeClient([]));
    const cycle = scheduler.requestCycle('job');
    ledger.finishCycle();
    await cycle;
    const failing = { runCycle: async () => Promise.reject(new Error('lock timeout')) } as unknown as SchedulingStore;
    const assignments = ledger as unknown as AssignmentsRepository;
    const failingScheduler = new Scheduler(failing, assignments, ledger, fakeClient([]), fakeStarter([]), OPTIONS, () => undefined);
    await expect(failingScheduler.requestCycle('job')).rejects.toThrow('lock timeout');
    expect(await count()).toBe(before + 2);
  });
});
