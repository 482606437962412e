/**
 * What ties a job's log lines in control and on its node to the request that submitted it. The API puts it in
 * the job workflow's memo; the workflow passes it to every activity in a header of this name.
 */
export interface LogContext {
  request_id?: string;
  tenant?: string;
}

export const LOG_CONTEXT_HEADER = 'mlis-log-context';

/** The job workflow's memo, written by the API when it starts the workflow and fixed for the workflow's life. */
export interface JobWorkflowMemo extends LogContext {
  /**
   * The API traced the submission: the workflow runs the OpenTelemetry interceptors. Read from the start event, so
   * every replay of the workflow, on any control process, runs the interceptors its first run did (ADR 0019).
   */
  traced?: boolean;
}
