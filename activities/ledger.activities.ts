import { ApplicationFailure } from '@temporalio/activity';
import { log } from '@temporalio/activity';
import {
  FailureCode,
  type EndAssignmentInput,
  type FinishJobInput,
  type LedgerWriteResult,
  type PlaceJobInput,
  type PlaceJobResult,
} from '../libs/contracts';
import { JobNotFoundError, type LedgerRepository } from '../libs/db/ledger.repository';

export interface LedgerActivityDeps {
  ledger: LedgerRepository;
  /** Signals waiting jobs after a reservation is released. */
  wakeWaitingJobs: () => Promise<number>;
  /** Nodes silent for longer than this are not placed on. */
  liveWithinSeconds: number;
}

function jobNotFound(error: unknown): never {
  if (error instanceof JobNotFoundError) {
    throw ApplicationFailure.create({ type: FailureCode.JobNotFound, message: error.message, nonRetryable: true });
  }
  throw error;
}

/** Ledger activities run on the control queue; each is one idempotent transaction keyed by (job, attempt). */
export function createLedgerActivities({ ledger, wakeWaitingJobs, liveWithinSeconds }: LedgerActivityDeps) {
  return {
    async placeJob(input: PlaceJobInput): Promise<PlaceJobResult> {
      return ledger.placeJob(input, liveWithinSeconds).catch(jobNotFound);
    },

    async markAssignmentRunning(input: { jobId: string; attempt: number }): Promise<void> {
      await ledger.markAssignmentRunning(input.jobId, input.attempt);
    },

    async endAssignment(input: EndAssignmentInput): Promise<LedgerWriteResult> {
      const { jobState, released } = await ledger.endAssignment(input).catch(jobNotFound);
      if (released) {
        // Waking is an optimisation: waiting jobs also retry on a slow timer, so a failure here must not fail the write.
        await wakeWaitingJobs().catch((error: unknown) => log.warn('waking waiting jobs failed', { error: String(error) }));
      }
      return { jobState };
    },

    async finishJob(input: FinishJobInput): Promise<LedgerWriteResult> {
      return ledger.finishJob(input).catch(jobNotFound);
    },
  };
}

export type LedgerActivities = ReturnType<typeof createLedgerActivities>;
