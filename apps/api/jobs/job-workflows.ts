import { Inject, Injectable, Logger } from '@nestjs/common';
import { Client, WorkflowNotFoundError } from '@temporalio/client';
import type { AppConfig } from '@mlis/config';
import { ApiErrorCode, CONTROL_TASK_QUEUE, jobWorkflowId, SEARCH_ATTRIBUTES, type JobWorkflowInput, type JobWorkflowMemo } from '@mlis/contracts';
import type { NewJob } from '@mlis/db';
import { setSpanAttributes } from '@mlis/tracing';
import { DomainError } from '../common/domain-error';
import { InjectAppConfig } from '../core/app-config';

/** Started by name so the API never loads workflow code; typed by its input. */
type JobWorkflow = (input: JobWorkflowInput) => Promise<unknown>;
const JOB_WORKFLOW_TYPE = 'jobWorkflow';
// The client retries an unreachable server for much longer; a submission holds a database
// transaction meanwhile, so give up early and answer 503.
const TEMPORAL_CALL_DEADLINE_MS = 5_000;

/** The API's gateway to Temporal: starts a job's workflow and asks it to cancel, each within a deadline. */
@Injectable()
export class JobWorkflows {
  private readonly logger = new Logger(JobWorkflows.name);

  constructor(
    @Inject(Client) private readonly client: Client,
    @InjectAppConfig() private readonly config: AppConfig,
  ) {}

  /** Starts the job's workflow; 503 when Temporal cannot be reached (inside the insert transaction, the job row rolls back with it). */
  async start(job: NewJob): Promise<void> {
    const { scheduling } = this.config;
    const input: JobWorkflowInput = {
      jobId: job.id,
      tenantId: job.tenantId,
      taskType: job.taskType,
      params: job.params,
      paramsArtifactId: job.paramsArtifactId,
      maxAttempts: job.maxAttempts,
      timeoutSeconds: job.timeoutSeconds,
      leaseSeconds: scheduling.leaseSeconds,
      scheduleToStartSeconds: scheduling.scheduleToStartSeconds,
      capacityRetrySeconds: scheduling.capacityRetrySeconds,
    };
    setSpanAttributes({ 'mlis.job_id': job.id });
    try {
      await this.withDeadline(() =>
        this.client.workflow.start<JobWorkflow>(JOB_WORKFLOW_TYPE, {
          taskQueue: CONTROL_TASK_QUEUE,
          workflowId: jobWorkflowId(job.id),
          args: [input],
          // Read by the workflow's interceptors: the log context goes to every activity's log lines; a traced
          // submission's workflow (this process exports spans) runs the tracing interceptors (ADR 0019).
          memo: {
            request_id: job.requestId ?? undefined,
            tenant: job.tenantId,
            ...(this.config.tracing.otlpEndpoint !== null ? { traced: true } : {}),
          } satisfies JobWorkflowMemo,
          typedSearchAttributes: [
            { key: SEARCH_ATTRIBUTES.tenant, value: job.tenantId },
            { key: SEARCH_ATTRIBUTES.taskType, value: job.taskType },
            { key: SEARCH_ATTRIBUTES.state, value: 'QUEUED' },
          ],
        }),
      );
    } catch (error) {
      this.logger.error({ msg: 'starting the job workflow failed', job_id: job.id, error: String(error) });
      throw new DomainError(ApiErrorCode.DependencyUnavailable, 'the workflow service is unavailable; the job was not accepted');
    }
  }

  /** Asks the job's workflow to cancel: false when it has already closed, 503 when Temporal cannot be reached. */
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

  private withDeadline<T>(call: () => Promise<T>): Promise<T> {
    return this.client.connection.withDeadline(Date.now() + TEMPORAL_CALL_DEADLINE_MS, call);
  }
}
