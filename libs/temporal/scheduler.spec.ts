import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { AssignmentsRepository, CycleOutcome, SchedulingStore } from '@mlis/db';
import { schedulerCycleDuration } from '@mlis/metrics';
import { Scheduler } from './scheduler';

const OPTIONS = { liveWithinSeconds: 15, agingSeconds: 600, laneWindow: 32, holdDepth: 16 };

/** A ledger whose cycles stay open until the test ends them, so requests can pile up during one. */
class GatedLedger {
  cycles = 0;
  finished: unknown[] = [];
  private gates: (() => void)[] = [];
  outcome: CycleOutcome = { placed: [], preempted: [], waiting: 0 };

  async runCycle(): Promise<CycleOutcome> {
    this.cycles += 1;
    await new Promise<void>((resolve) => this.gates.push(resolve));
    return this.outcome;
  }

  stale: string[] = [];

  async stalePlacements(): Promise<string[]> {
    return this.stale;
  }

  async finishJob(input: unknown): Promise<{ jobState: string; released: boolean }> {
    this.finished.push(input);
    return { jobState: 'FAILED', released: true };
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

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe(Scheduler.name, () => {
  it('shares one follow-up cycle among every request made while a cycle runs', async () => {
    const ledger = new GatedLedger();
    const scheduler = new Scheduler(ledger as unknown as SchedulingStore, ledger as unknown as AssignmentsRepository, fakeClient([]), OPTIONS, () => undefined);
    const first = scheduler.requestCycle();
    const during = [scheduler.requestCycle(), scheduler.requestCycle(), scheduler.requestCycle()];
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

  it('signals the waiting jobs it placed and the attempts it preempts; releases a placement whose workflow is gone; warns on other failures', async () => {
    const ledger = new GatedLedger();
    ledger.outcome = {
      placed: [
        { jobId: 'a', attempt: 1, waited: true },
        // Placed at its first look: its own awaitPlacement reads the placement, no signal.
        { jobId: 'fresh', attempt: 1, waited: false },
        { jobId: 'gone', attempt: 1, waited: true },
        { jobId: 'broken', attempt: 1, waited: true },
      ],
      preempted: [{ jobId: 'low', attempt: 3, forJobId: 'a' }],
      waiting: 0,
    };
    const signalled: string[] = [];
    const warnings: string[] = [];
    const failures = new Map<string, Error>([
      ['job-gone', new WorkflowNotFoundError('gone', 'job-gone', undefined)],
      ['job-broken', new Error('temporal unavailable')],
    ]);
    const scheduler = new Scheduler(
      ledger as unknown as SchedulingStore,
      ledger as unknown as AssignmentsRepository,
      fakeClient(signalled, failures),
      OPTIONS,
      (w) => warnings.push(w),
    );
    const cycle = scheduler.requestCycle();
    ledger.finishCycle();
    await expect(cycle).resolves.toBe(ledger.outcome);
    expect(signalled).toEqual(['job-a capacityAvailable', 'job-low preemptAssignment {"attempt":3}']);
    expect(ledger.finished).toEqual([{ jobId: 'gone', state: 'FAILED', error: { code: 'WorkflowGone', message: expect.any(String) } }]);
    expect(warnings).toEqual([expect.stringContaining('job gone was placed but its workflow is gone'), expect.stringContaining('temporal unavailable')]);
  });

  it('signals placements that never started again, and releases one whose workflow is gone', async () => {
    const ledger = new GatedLedger();
    ledger.stale = ['late', 'gone'];
    const signalled: string[] = [];
    const failures = new Map<string, Error>([['job-gone', new WorkflowNotFoundError('gone', 'job-gone', undefined)]]);
    const scheduler = new Scheduler(
      ledger as unknown as SchedulingStore,
      ledger as unknown as AssignmentsRepository,
      fakeClient(signalled, failures),
      OPTIONS,
      () => undefined,
    );
    expect(await scheduler.nudgeStalePlacements(40)).toBe(2);
    expect(signalled).toEqual(['job-late capacityAvailable']);
    expect(ledger.finished).toEqual([expect.objectContaining({ jobId: 'gone', state: 'FAILED' })]);
  });

  it('observes every cycle it runs, a failed one too, in mlis_scheduler_cycle_duration_seconds', async () => {
    const count = async () => (await schedulerCycleDuration.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
    const before = await count();
    const ledger = new GatedLedger();
    const scheduler = new Scheduler(ledger as unknown as SchedulingStore, ledger as unknown as AssignmentsRepository, fakeClient([]), OPTIONS, () => undefined);
    const cycle = scheduler.requestCycle();
    ledger.finishCycle();
    await cycle;
    const failing = { runCycle: async () => Promise.reject(new Error('lock timeout')) } as unknown as SchedulingStore;
    await expect(new Scheduler(failing, ledger as unknown as AssignmentsRepository, fakeClient([]), OPTIONS, () => undefined).requestCycle()).rejects.toThrow('lock timeout');
    expect(await count()).toBe(before + 2);
  });
});
