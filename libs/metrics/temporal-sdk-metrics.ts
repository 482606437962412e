/**
 * Temporal SDK metrics (its Runtime's Prometheus exporter, seconds, `_total` counters) that the dashboard
 * reads. They are not ours to register, so they are listed here: the dashboard test checks panels against
 * this list, and the integration test checks the list against live endpoints once work has run.
 */
export const TEMPORAL_SDK_METRICS = {
  /** A process that runs job workflows and their ledger calls (local activities, ADR 0018): control, the API (ADR 0052). */
  jobWorkflows: [
    'temporal_workflow_task_schedule_to_start_latency_seconds',
    'temporal_local_activity_execution_latency_seconds',
    'temporal_worker_task_slots_available',
    'temporal_worker_task_slots_used',
    'temporal_workflow_completed_total',
  ],
  /** A node, once it has run an attempt. */
  node: [
    'temporal_activity_schedule_to_start_latency_seconds',
    'temporal_activity_execution_latency_seconds',
    'temporal_worker_task_slots_available',
    'temporal_worker_task_slots_used',
  ],
} as const;
