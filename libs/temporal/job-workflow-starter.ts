import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy, type SearchAttributePair } from '@temporalio/common';
import type { SchedulingConfig } from '@mlis/config';
import { jobWorkflowStarts } from '@mlis/metrics';
import {
  capacityAvailableSignal,
  CONTROL_TASK_QUEUE,
  JOB_WORKFLOW_TYPE,
  JOB_WORKFLOW_VERSION,
  jobWorkflowId,
  SEARCH_ATTRIBUTES,
  type JobWorkflowInput,
  type JobWorkflowMemo,
  type Placement,
} from '@mlis/contracts';

/** What starting a job's workflow needs from the job: the API's new job, or its row read back. */
export interface JobToStart {
  id: string;
  tenantId: string;
  taskType: string;
  params: Record<string, unknown>;
  paramsArtifactId: string | null;
  maxAttempts: number;
  timeoutSeconds: number;
  requestId: string | null;
}

/** Started by name so the API never loads workflow code; typed by its input. */
type JobWorkflow = (input: JobWorkflowInput) => Promise<unknown>;

/**
 * Starts job workflows, after the job's row has committed (ADR 0027). The API starts one for every job it accepts; a
 * scheduler starts the workflow of a placed job that has none (its API died between the commit and the start). Each
 * job runs one workflow, ever: a second start finds it (running or closed) and starts nothing.
 */
export class JobWorkflowStarter {
  constructor(
    private readonly client: Client,
    private readonly scheduling: SchedulingConfig,
    /** This process exports spans, so the workflow runs the tracing interceptors (ADR 0019). */
    private readonly traced: boolean,
  ) {}

  /**
   * Starts the job's workflow, with attempt 1's placement when a cycle has placed the job already (ADR 0031); false
   * when it already has one, running or closed. Eagerly: when a job workflow worker of this process has a free slot,
   * the server answers with the workflow's first task, which that worker runs at once, with no trip through a task
   * queue (ADR 0052); otherwise (the SDK asks for it only then) the task goes to the control queue.
   */
  async start(job: JobToStart, placement?: Placement): Promise<boolean> {
    try {
      const started = await this.client.workflow.start<JobWorkflow>(JOB_WORKFLOW_TYPE, { ...this.options(job, placement), requestEagerStart: true });
      jobWorkflowStarts.inc({ first_task: started.eagerlyStarted ? 'eager' : 'queued' });
      return true;
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) return false;
      throw error;
    }
  }

  /** Tells the job's workflow it was placed, starting it first if it never started; false when it has closed. */
  async signalPlaced(job: JobToStart): Promise<boolean> {
    try {
      await this.client.workflow.signalWithStart<JobWorkflow>(JOB_WORKFLOW_TYPE, {
        ...this.options(job),
        signal: capacityAvailableSignal,
        signalArgs: [],
      });
      return true;
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) return false;
      throw error;
    }
  }

  private options(job: JobToStart, placement?: Placement) {
    const { scheduling } = this;
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
      workflowVersion: JOB_WORKFLOW_VERSION,
      ...(placement ? { placement } : {}),
    };
    return {
      taskQueue: CONTROL_TASK_QUEUE,
      workflowId: jobWorkflowId(job.id),
      // A closed workflow's id is never run again: a late start must not run a finished job a second time.
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      args: [input] as [JobWorkflowInput],
      // Read by the workflow's interceptors: the log context goes to every activity's log lines; a traced
      // submission's workflow runs the tracing interceptors (ADR 0019).
      memo: {
        request_id: job.requestId ?? undefined,
        tenant: job.tenantId,
        ...(this.traced ? { traced: true } : {}),
      } satisfies JobWorkflowMemo,
      typedSearchAttributes: startSearchAttributes(job, placement),
    };
  }
}

/**
 * A job workflow's search attributes at its start. A placed job is RUNNING in the ledger: its workflow starts with the
 * attributes its first task would otherwise upsert (ADR 0031).
 */
export function startSearchAttributes(job: { tenantId: string; taskType: string }, placement?: Placement): SearchAttributePair[] {
  return [
    { key: SEARCH_ATTRIBUTES.tenant, value: job.tenantId },
    { key: SEARCH_ATTRIBUTES.taskType, value: job.taskType },
    ...(placement
      ? [
          { key: SEARCH_ATTRIBUTES.state, value: 'RUNNING' },
          { key: SEARCH_ATTRIBUTES.workerGroup, value: placement.group },
          { key: SEARCH_ATTRIBUTES.node, value: placement.nodeId },
        ]
      : [{ key: SEARCH_ATTRIBUTES.state, value: 'QUEUED' }]),
  ];
}
