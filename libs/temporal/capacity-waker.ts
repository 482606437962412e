import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { capacityAvailableSignal, jobWorkflowId } from '../contracts';
import type { LedgerRepository } from '../db/ledger.repository';

/**
 * Tells waiting jobs that capacity appeared (a reservation was released, a node joined).
 * Only the first `batchSize` jobs in queue order are signalled, so one release never
 * costs a signal per waiting job; each woken job that still does not fit waits again.
 */
export class CapacityWaker {
  constructor(
    private readonly ledger: LedgerRepository,
    private readonly client: Client,
    private readonly batchSize: number,
  ) {}

  /** Returns how many jobs were signalled. */
  async wake(): Promise<number> {
    const jobIds = await this.ledger.waitingJobIds(this.batchSize);
    const results = await Promise.allSettled(
      jobIds.map((jobId) => this.client.workflow.getHandle(jobWorkflowId(jobId)).signal(capacityAvailableSignal)),
    );
    // A job that ended between the query and the signal is fine; anything else is worth surfacing.
    const failure = results.find(
      (r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof WorkflowNotFoundError),
    );
    if (failure) throw failure.reason;
    return results.filter((r) => r.status === 'fulfilled').length;
  }
}
