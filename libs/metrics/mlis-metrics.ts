import { Transform } from 'node:stream';
import { Counter, Gauge, Histogram } from 'prom-client';
import { rankedTenants } from './tenant-label';

// Every metric an MLIS process observes in-process, defined once here so that any module can record into it.
// None registers itself: each process's registry (process-registry.ts) serves only the ones that process
// records, so no endpoint advertises a series that can never move. Names follow Prometheus' conventions:
// base units (seconds, bytes), `_total` on counters, labels with a small, fixed set of values.

// Seconds from submission to a job's first RUNNING attempt: from a blink to a long queue.
const WAIT_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
// Seconds one attempt runs: inference calls to hour-long jobs.
const RUN_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
// One scheduling cycle is milliseconds (docs/benchmarks.md; its p99 target is 20 ms, a bucket edge); the tail shows lock waits.
const CYCLE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** API: every request, by the route pattern that matched (never the raw path), method and status class. */
export const httpRequestDuration = new Histogram({
  name: 'mlis_http_request_duration_seconds',
  help: 'HTTP request duration by method, matched route pattern ("unmatched" for none) and status class (2xx, 4xx, ...).',
  labelNames: ['method', 'route', 'status_class'] as const,
  buckets: HTTP_BUCKETS,
  registers: [],
});

/** API and control: each process that runs scheduling cycles observes its own. */
export const schedulerCycleDuration = new Histogram({
  name: 'mlis_scheduler_cycle_duration_seconds',
  help: 'Duration of one scheduling cycle in this process, lock wait included.',
  buckets: CYCLE_BUCKETS,
  registers: [],
});

/**
 * API and control: a cycle asked for only because capacity freed first reads whether a job waits (ADR 0046), by what
 * it found: job_waits (the cycle ran) or nothing_waits (it ended there, with no transaction).
 */
export const schedulerCycleChecks = new Counter({
  name: 'mlis_scheduler_cycle_checks_total',
  help: 'Cycles asked for only because capacity freed, by what the read before them found: job_waits (the cycle ran) or nothing_waits (it ended there).',
  labelNames: ['result'] as const,
  registers: [],
});

/** API (a node's start report) and the processes that run job workflows (an end write): a job's first attempt started. */
export const admissionWait = new Histogram({
  name: 'mlis_admission_wait_seconds',
  help: "Time from a job's submission to its first attempt RUNNING on a node, by the node's worker group.",
  labelNames: ['group'] as const,
  buckets: WAIT_BUCKETS,
  registers: [],
});

/**
 * API and control, served only with MLIS_METRICS_TENANT_LABEL=top:N (ADR 0041): the same waits as
 * mlis_admission_wait_seconds, by tenant. Observe both through `observeAdmissionWait`.
 */
export const tenantAdmissionWait = new Histogram({
  name: 'mlis_tenant_admission_wait_seconds',
  help: "Time from a job's submission to its first attempt RUNNING on a node, by tenant: the top N tenants by active jobs, the rest as other.",
  labelNames: ['tenant'] as const,
  buckets: WAIT_BUCKETS,
  registers: [],
});

/** A job's first attempt started `seconds` after its submission: by the node's group, and by tenant (ranked). */
export function observeAdmissionWait(group: string, tenantId: string, seconds: number): void {
  admissionWait.observe({ group }, seconds);
  tenantAdmissionWait.observe({ tenant: rankedTenants.labelOf(tenantId) }, seconds);
}

/** The processes that run job workflows, control and the API (ADR 0052): when an attempt that had started ends, whatever ended it. */
export const runDuration = new Histogram({
  name: 'mlis_run_duration_seconds',
  help: 'Running time of one attempt (RUNNING to its end) by task type and outcome (SUCCEEDED, FAILED, LOST, CANCELLED, PREEMPTED).',
  labelNames: ['task_type', 'outcome'] as const,
  buckets: RUN_BUCKETS,
  registers: [],
});

/**
 * The processes that run job workflows, served only with MLIS_METRICS_TENANT_LABEL=top:N (ADR 0041): what a tenant's attempts ran, counted when
 * each ends, whatever ended it. Observe both through `countTenantRunTime`.
 */
export const tenantRunSeconds = new Counter({
  name: 'mlis_tenant_run_seconds_total',
  help: "Seconds the tenant's attempts ran (RUNNING to their end, whatever the outcome), counted as each ends, by tenant: the top N tenants by active jobs, the rest as other.",
  labelNames: ['tenant'] as const,
  registers: [],
});

export const tenantGpuSeconds = new Counter({
  name: 'mlis_tenant_gpu_seconds_total',
  help: "GPU-seconds the tenant's attempts held while they ran (run time times GPUs), counted as each ends, by tenant: the top N tenants by active jobs, the rest as other.",
  labelNames: ['tenant'] as const,
  registers: [],
});

/** An attempt of the tenant's that held `gpus` GPUs ran `seconds` before it ended. */
export function countTenantRunTime(tenantId: string, seconds: number, gpus: number): void {
  const tenant = rankedTenants.labelOf(tenantId);
  tenantRunSeconds.inc({ tenant }, seconds);
  tenantGpuSeconds.inc({ tenant }, seconds * gpus);
}

/** The processes that run job workflows: an attempt whose node went silent (heartbeat or schedule-to-start timeout), or was lost otherwise. */
export const leaseLosses = new Counter({
  name: 'mlis_lease_losses_total',
  help: 'Attempts ended LOST, by worker group and cause: heartbeat_timeout (the node went silent), schedule_to_start_timeout (it never picked the attempt up), node_shutdown (it handed the attempt back while stopping), assignment_not_live (the API fenced it off), node_gone (withdrawn unstarted from a node that went DEAD or left).',
  labelNames: ['group', 'cause'] as const,
  registers: [],
});

/** The processes that run job workflows: an attempt evicted for a higher-priority job. */
export const preemptions = new Counter({
  name: 'mlis_preemptions_total',
  help: 'Attempts ended PREEMPTED to make room for a higher-priority job, by worker group.',
  labelNames: ['group'] as const,
  registers: [],
});

/**
 * API and control: the job workflows this process started, by where their first task went (ADR 0052): eager (it came
 * back with the start, and a job workflow worker of this process ran it at once) or queued (to the control queue: no
 * worker of the process had a free slot, or the process runs none).
 */
export const jobWorkflowStarts = new Counter({
  name: 'mlis_job_workflow_starts_total',
  help: 'Job workflows this process started, by where their first task went: eager (back with the start, run by this process) or queued (to the control queue).',
  labelNames: ['first_task'] as const,
  registers: [],
});

/** Node: assignments this node is executing now. */
export const nodeRunsInProgress = new Gauge({
  name: 'mlis_node_runs_in_progress',
  help: 'Attempts this node is running now, by task type.',
  labelNames: ['task_type'] as const,
  registers: [],
});

/** API (uploads in, downloads out) and nodes (inputs in, outputs out): the artifacts branch records into it. */
export const artifactBytes = new Counter({
  name: 'mlis_artifact_bytes_total',
  help: 'Artifact bytes moved by this process, by direction (in: received or read, out: sent or written).',
  labelNames: ['direction'] as const,
  registers: [],
});

/** Control: what each artifact retention pass removed. */
export const artifactRetentionRemoved = new Counter({
  name: 'mlis_artifact_retention_removed_total',
  help: 'Removed by artifact retention, by what: expired (artifacts past their expiry), staged (uploads abandoned mid-stream), rowless (uploads cut off before their row).',
  labelNames: ['what'] as const,
  registers: [],
});

/** Control: an artifact retention pass in which something failed, counted once a pass; the next pass tries again. */
export const artifactRetentionFailures = new Counter({
  name: 'mlis_artifact_retention_failures_total',
  help: 'Artifact retention passes in which a clean-up or an object failed (Postgres or the artifact store unreachable, an object the store refused to delete); the next pass tries again.',
  registers: [],
});

/** Node: a model runner looked a model up in its warm pool. */
export const modelCacheLookups = new Counter({
  name: 'mlis_model_cache_lookups_total',
  help: 'Model cache lookups on this node by result (hit: the model was loaded; miss: it had to be loaded).',
  labelNames: ['result'] as const,
  registers: [],
});

/** Node: a model runner ran one batch. */
export const modelBatchSize = new Histogram({
  name: 'mlis_model_batch_size',
  help: 'Inputs per model invocation (batch size) on this node.',
  buckets: [1, 2, 4, 8, 16, 32, 64, 128],
  registers: [],
});

/** A pass-through stream that counts what flows through it in mlis_artifact_bytes_total (no listener: it never starts the flow itself). */
export function countArtifactBytes(direction: 'in' | 'out'): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      artifactBytes.inc({ direction }, chunk.length);
      done(null, chunk);
    },
  });
}
