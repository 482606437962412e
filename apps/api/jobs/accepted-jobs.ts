import type { JobFinishedFeed } from '@mlis/db';

/** How long a replica remembers a job it accepted, for the long-poll that usually follows the submission (ADR 0049). */
export const ACCEPTED_JOB_MEMORY_MS = 30_000;
/** The most jobs remembered at once; the oldest are forgotten first. */
export const MAX_ACCEPTED_JOBS = 10_000;

/**
 * The jobs this replica accepted in the last ACCEPTED_JOB_MEMORY_MS and has heard no end of, with their tenants. A
 * long-poll for one of them needs no first read: the job exists, its tenant is known, and it is not final (ADR 0049).
 * An end is heard through the job-finished feed: the job's notification, or the feed's reconnect, which wakes every
 * listener as anything may have ended while it was not listening; either makes this replica forget the job. A job
 * accepted while the feed was not listening is not remembered, and none is answered for while it is not listening.
 */
export class AcceptedJobs {
  /** In the order accepted, so the oldest come first. */
  private readonly jobs = new Map<string, { tenantId: string; acceptedAt: number; unsubscribe: () => void }>();

  constructor(private readonly feed: Pick<JobFinishedFeed, 'subscribe' | 'isListening'>) {}

  /** Call once the job's row has committed and before its workflow starts: the job cannot end before. */
  add(jobId: string, tenantId: string): void {
    const now = Date.now();
    this.forgetOlderThan(now - ACCEPTED_JOB_MEMORY_MS);
    if (!this.feed.isListening()) return;
    while (this.jobs.size >= MAX_ACCEPTED_JOBS) this.forget(this.jobs.keys().next().value as string);
    this.jobs.set(jobId, { tenantId, acceptedAt: now, unsubscribe: this.feed.subscribe(jobId, () => this.forget(jobId)) });
  }

  /**
   * The tenant of job `jobId` when this replica accepted it and has heard no end of it since, so that it is not final;
   * undefined otherwise. Forgets the job either way: the next long-poll for it reads it. Call it after subscribing
   * the waiter to the feed, so that an end heard from then on wakes the waiter.
   */
  take(jobId: string): string | undefined {
    const entry = this.jobs.get(jobId);
    if (!entry) return undefined;
    this.forget(jobId);
    if (!this.feed.isListening() || Date.now() - entry.acceptedAt >= ACCEPTED_JOB_MEMORY_MS) return undefined;
    return entry.tenantId;
  }

  /** Jobs remembered now. */
  get size(): number {
    return this.jobs.size;
  }

  private forgetOlderThan(cutoff: number): void {
    for (const [jobId, entry] of this.jobs) {
      if (entry.acceptedAt >= cutoff) return;
      this.forget(jobId);
    }
  }

  private forget(jobId: string): void {
    const entry = this.jobs.get(jobId);
    if (!entry) return;
    this.jobs.delete(jobId);
    entry.unsubscribe();
  }
}
