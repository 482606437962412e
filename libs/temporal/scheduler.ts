import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { capacityAvailableSignal, jobWorkflowId, preemptAssignmentSignal } from '../contracts';
import type { CycleOptions, CycleOutcome, LedgerRepository } from '../db/ledger.repository';

/**
 * Runs scheduling cycles for this process and tells the affected workflows: placed jobs get
 * `capacityAvailable` (they pick their placement up), preempted ones get `preemptAssignment`.
 * Requests that arrive while a cycle runs share the next one, so a burst of events (a hundred
 * jobs finishing at once) costs two cycles, not a hundred. Cycles of different processes are
 * serialised by the ledger's advisory lock.
 */
export class Scheduler {
  private running: Promise<CycleOutcome> | null = null;
  private next: Promise<CycleOutcome> | null = null;

  constructor(
    private readonly ledger: LedgerRepository,
    private readonly client: Client,
    private readonly options: CycleOptions,
    private readonly warn: (message: string) => void,
  ) {}

  /** Resolves with a cycle that started after this call. */
  requestCycle(): Promise<CycleOutcome> {
    if (this.next) return this.next;
    if (!this.running) return this.start();
    const after = this.running.catch(() => undefined);
    this.next = after.then(() => {
      this.next = null;
      return this.start();
    });
    return this.next;
  }

  private start(): Promise<CycleOutcome> {
    const cycle = this.cycle().finally(() => {
      if (this.running === cycle) this.running = null;
    });
    this.running = cycle;
    return cycle;
  }

  private async cycle(): Promise<CycleOutcome> {
    const outcome = await this.ledger.runCycle(this.options);
    const signal = (jobId: string, send: (handle: WorkflowHandle) => Promise<void>) =>
      send(this.client.workflow.getHandle(jobWorkflowId(jobId))).then(
        () => ({ jobId, error: undefined }),
        (error: unknown) => ({ jobId, error }),
      );
    const results = await Promise.all([
      ...outcome.placed.map(({ jobId }) => signal(jobId, (handle) => handle.signal(capacityAvailableSignal))),
      ...outcome.preempted.map(({ jobId, attempt }) => signal(jobId, (handle) => handle.signal(preemptAssignmentSignal, { attempt }))),
    ]);
    const placed = new Set(outcome.placed.map(({ jobId }) => jobId));
    for (const { jobId, error } of results) {
      if (error === undefined) continue;
      if (error instanceof WorkflowNotFoundError) {
        // A job whose workflow is gone (terminated by an operator) would hold its placement forever.
        if (placed.has(jobId)) await this.releaseOrphan(jobId);
        continue;
      }
      // The ledger already holds the decision; a job that missed its signal finds its placement on its
      // safety-net timer. Worth a warning, not a failed cycle.
      this.warn(`signalling job ${jobId} after a scheduling cycle failed: ${String(error)}`);
    }
    return outcome;
  }

  private async releaseOrphan(jobId: string): Promise<void> {
    try {
      await this.ledger.finishJob({
        jobId,
        state: 'FAILED',
        error: { code: 'WorkflowGone', message: 'the job workflow is no longer running; its placement was released' },
      });
      this.warn(`job ${jobId} was placed but its workflow is gone: ended FAILED (WorkflowGone), placement released`);
    } catch (error) {
      this.warn(`releasing the placement of job ${jobId}, whose workflow is gone, failed: ${String(error)}`);
    }
  }
}
