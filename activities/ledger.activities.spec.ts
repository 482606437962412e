import { MockActivityEnvironment } from '@temporalio/testing';
import { ApplicationFailure } from '@temporalio/common';
import { JobRowMissingError, type LedgerRepository } from '../libs/db/ledger.repository';
import { createLedgerActivities } from './ledger.activities';

function activitiesWithMissingRow() {
  const ledger = {
    placementOf: async (jobId: string) => {
      throw new JobRowMissingError(`job ${jobId} not found`);
    },
  } as unknown as LedgerRepository;
  return createLedgerActivities({ ledger, requestCycle: async () => ({ placed: [], preempted: [], waiting: 0 }), laneWindow: 32 });
}

async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(ApplicationFailure);
  return outcome as ApplicationFailure;
}

describe('placeJob', () => {
  it('retries while the job row may still be committing (the workflow starts inside the insert transaction)', async () => {
    const { placeJob } = activitiesWithMissingRow();
    const early = await failureOf(new MockActivityEnvironment({ attempt: 1 }).run(placeJob, { jobId: 'j-1', attempt: 1 }));
    expect(early).toMatchObject({ type: 'JobNotFound', nonRetryable: false, message: 'job j-1 not found (yet)' });
  });

  it('gives up once the row would long have committed: the submission was rolled back', async () => {
    const { placeJob } = activitiesWithMissingRow();
    const late = await failureOf(new MockActivityEnvironment({ attempt: 4 }).run(placeJob, { jobId: 'j-1', attempt: 1 }));
    expect(late).toMatchObject({ type: 'JobNotFound', nonRetryable: true, message: 'job j-1 not found' });
  });
});
