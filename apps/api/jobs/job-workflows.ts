import { setTimeout as delay } from 'node:timers/promises';
import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import { ApiErrorCode, jobWorkflowId, type Placement } from '@mlis/contracts';
import { JobWorkflowStarter, Scheduler, type JobToStart, type NewJobOptions } from '@mlis/temporal';
import { setSpanAttributes } from '@mlis/tracing';
import { DomainError } from '../common/domain-error';

// The client retries an unreachable server for much longer; a request waiting on it should answer 503 instead.
const TEMPORAL_CALL_DEADLINE_MS = 5_000;
// A start after the commit is retried while Temporal is unreachable (a restart takes seconds): 1 + 2 + 4 + 8 + 16 s.
// Past that, a scheduler starts the workflow once a cycle has placed the job (ADR 0027).
const BACKGROUND_START_TRIES = 6;
const BACKGROUND_START_FIRST_RETRY_MS = 1_000;
// How long a stopping API waits for its background starts: a restart should not leave jobs for the scheduler's path.
const SHUTDOWN_START_WAIT_MS = 5_000;

/** The API's gateway to Temporal: places a new job and starts its workflow, and asks a workflow to cancel. */
@Injectable()
export class JobWorkflows implements BeforeApplicationShutdown {
  private readonly logger = new Logger(JobWorkflows.name);
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    @Inject(Client) private readonly client: Client,
    @Inject(JobWorkflowStarter) private readonly starter: JobWorkflowStarter,
    @Inject(Scheduler) private readonly scheduler: Scheduler,
  ) {}

  /**
   * Starts the workflow of a job whose row has committed, without holding up the submission's answer; retried in
   * the background while Temporal cannot be reached. A start that finds the workflow already there is a success.
   * `insertedJustNow`: see `NewJobOptions`.
   */
  startSoon(job: JobToStart, { insertedJustNow = false }: NewJobOptions = {}): void {
    setSpanAttributes({ 'mlis.job_id': job.id });
    const start = this.startInBackground(job, insertedJustNow).finally(() => this.inFlight.delete(start));
    this.inFlight.add(start);
  }

  /** Before the Temporal connection closes: lets the background starts finish, for SHUTDOWN_START_WAIT_MS at most. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.inFlight.size === 0) return;
    const pending = this.inFlight.size;
    const finished = await Promise.race([Promise.all(this.inFlight).then(() => true), delay(SHUTDOWN_START_WAIT_MS, false, { ref: false })]);
    if (!finished) this.logger.warn({ msg: 'stopping with workflow starts still in flight', pending, next: 'a scheduler starts them once their jobs are placed' });
  }

  /** Starts the job's workflow now unless it has one; 503 when Temporal cannot be reached. */
  async ensureStarted(job: JobToStart): Promise<void> {
    try {
      await this.withDeadline(() => this.starter.start(job));
    } catch (error) {
      this.logger.warn({ msg: 'starting the job workflow failed', job_id: job.id, error: String(error) });
      throw new DomainError(ApiErrorCode.DependencyUnavailable, 'could not reach the workflow service');
    }
  }

  /** Asks the job's workflow to cancel: false when it is not running (closed, or not started yet), 503 when Temporal cannot be reached. */
  async cancel(jobId: string): Promise<boolean> {
    try {
      await this.withDeadline(() => this.client.workflow.getHandle(jobWorkflowId(jobId)).cancel());
      return true;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      this.logger.warn({ msg: 'cancel request failed', job_id: jobId, error: String(error) });
      throw new DomainError(ApiErrorCode.DependencyUnavailable, 'could not reach the workflow service to cancel the job');
    }
  }

  private async startInBackground(job: JobToStart, insertedJustNow: boolean): Promise<void> {
    const placement = await this.placeFirst(job.id, insertedJustNow);
    for (let tries = 1; ; tries += 1) {
      try {
        await this.withDeadline(() => this.starter.start(job, placement));
        return;
      } catch (error) {
        const fields = { msg: 'starting the job workflow failed', job_id: job.id, tries, error: String(error) };
        if (tries >= BACKGROUND_START_TRIES) {
          this.logger.error({ ...fields, next: 'a scheduler starts it once the job is placed' });
          return;
        }
        this.logger.warn(fields);
        await delay(BACKGROUND_START_FIRST_RETRY_MS * 2 ** (tries - 1));
      }
    }
  }

  /**
   * The new job's first placement, so that its workflow dispatches the attempt in its first task (ADR 0031). A failed
   * read or cycle only costs that: the workflow places the job itself.
   */
  private async placeFirst(jobId: string, insertedJustNow: boolean): Promise<Placement | undefined> {
    try {
      return await this.scheduler.placeNewJob(jobId, { insertedJustNow });
    } catch (error) {
      this.logger.warn({ msg: 'placing the job before its workflow start failed; the workflow places it itself', job_id: jobId, error: String(error) });
      return undefined;
    }
  }

  private withDeadline<T>(call: () => Promise<T>): Promise<T> {
    return this.client.connection.withDeadline(Date.now() + TEMPORAL_CALL_DEADLINE_MS, call);
  }
}
