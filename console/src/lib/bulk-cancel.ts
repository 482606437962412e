import { ApiError, type Job } from '../api/client';

export interface BulkResult {
  cancelled: number;
  skipped: number;
  failed: { id: string; code: string }[];
}

const CONCURRENCY = 4;

export function cancellable(job: Pick<Job, 'state'>): boolean {
  return job.state === 'QUEUED' || job.state === 'RUNNING';
}

/**
 * Cancels the cancellable jobs, a few at a time, and says what happened to each: a job that finished
 * meanwhile (409 job_already_finished) counts as skipped, not failed.
 */
export async function cancelJobs(jobs: Job[], cancel: (id: string) => Promise<unknown>): Promise<BulkResult> {
  const result: BulkResult = { cancelled: 0, skipped: jobs.filter((job) => !cancellable(job)).length, failed: [] };
  const queue = jobs.filter(cancellable);
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      try {
        await cancel(job.id);
        result.cancelled += 1;
      } catch (error) {
        if (error instanceof ApiError && error.code === 'job_already_finished') result.skipped += 1;
        else result.failed.push({ id: job.id, code: error instanceof ApiError ? error.code : 'client_error' });
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return result;
}
