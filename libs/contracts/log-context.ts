/**
 * What ties a job's log lines in control and on its node to the request that submitted it. The API puts it in
 * the job workflow's memo; the workflow passes it to every activity in a header of this name.
 */
export interface LogContext {
  request_id?: string;
  tenant?: string;
}

export const LOG_CONTEXT_HEADER = 'mlis-log-context';
