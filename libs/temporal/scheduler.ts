import type { Client } from '@temporalio/client';
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
    const results = await Promise.allSettled([
      ...outcome.placed.map(({ jobId }) => this.client.workflow.getHandle(jobWorkflowId(jobId)).signal(capacityAvailableSignal)),
      ...outcome.preempted.map(({ jobId, attempt }) =>
        this.client.workflow.getHandle(jobWorkflowId(jobId)).signal(preemptAssignmentSignal, { attempt }),
      ),
    ]);
    // The ledger already holds the decision; a job that ended meanwhile is fine, and one that missed its
    // signal finds its placement on its safety-net timer. Worth a warning, not a failed cycle.
    for (const result of results) {
      if (result.status === 'rejected' && !(result.reason instanceof WorkflowNotFoundError)) {
        this.warn(`signalling after a scheduling cycle failed: ${String(result.reason)}`);
      }
    }
    return outcome;
  }
}
