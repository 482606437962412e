import { collectDefaultMetrics, Gauge, Registry, type Metric } from 'prom-client';
import { version } from '../../package.json';
import {
  admissionWait,
  artifactBytes,
  artifactRetentionFailures,
  artifactRetentionRemoved,
  httpRequestDuration,
  jobWorkflowStarts,
  leaseLosses,
  modelBatchSize,
  modelCacheLookups,
  nodeRunsInProgress,
  preemptions,
  runDuration,
  schedulerCycleChecks,
  schedulerCycleDuration,
  tenantAdmissionWait,
  tenantGpuSeconds,
  tenantRunSeconds,
} from './mlis-metrics';

export type MlisProcess = 'api' | 'control' | 'node';

/** What the ledger activities record: in control, and in an API that runs job workflows too (ADR 0052). */
const LEDGER_ACTIVITY_METRICS: Metric[] = [admissionWait, runDuration, leaseLosses, preemptions];
/** The same by tenant. */
const LEDGER_ACTIVITY_TENANT_METRICS: Metric[] = [tenantAdmissionWait, tenantRunSeconds, tenantGpuSeconds];

/**
 * What each process records (ADR 0016). Ledger-wide figures (jobs, waiting reasons, capacity, heartbeat age)
 * are not here: the API reads them from Postgres at scrape time (apps/api/metrics).
 */
export const PROCESS_METRICS: Record<MlisProcess, Metric[]> = {
  api: [httpRequestDuration, schedulerCycleDuration, schedulerCycleChecks, jobWorkflowStarts, artifactBytes, admissionWait],
  control: [schedulerCycleDuration, schedulerCycleChecks, jobWorkflowStarts, ...LEDGER_ACTIVITY_METRICS, artifactRetentionRemoved, artifactRetentionFailures],
  node: [nodeRunsInProgress, artifactBytes, modelCacheLookups, modelBatchSize],
};

const EVENT_LOOP_SAMPLE_MS = 100;

export interface ProcessRegistryOptions {
  /** The commit or tag this build came from (MLIS_BUILD_REVISION). */
  revision: string;
  /** Labels on every series of this process, e.g. a node's group and id. */
  defaultLabels?: Record<string, string>;
  /** MLIS_METRICS_TENANT_LABEL is top:N: also serve this process's metrics by tenant (ADR 0041). */
  byTenant?: boolean;
  /** The API runs job workflows and their ledger activities too (MLIS_API_JOB_WORKFLOWS, ADR 0052): serve what those record. */
  jobWorkflows?: boolean;
}

/** What each process records by tenant, served only when a tenant label is configured. */
export const PROCESS_TENANT_METRICS: Record<MlisProcess, Metric[]> = {
  api: [tenantAdmissionWait],
  control: LEDGER_ACTIVITY_TENANT_METRICS,
  node: [],
};

/** A registry with Node's process metrics, `mlis_build_info` and the metrics this process records. */
export function createProcessRegistry(
  process: MlisProcess,
  { revision, defaultLabels, byTenant = false, jobWorkflows = false }: ProcessRegistryOptions,
): Registry {
  const registry = new Registry();
  if (defaultLabels) registry.setDefaultLabels(defaultLabels);
  // The event-loop lag histogram samples on a timer: prom-client's default of every 10 ms woke each idle process 100
  // times a second, 5 ms of CPU a second per process on the benchmark machine. Every 100 ms still catches the stalls
  // that matter: one of 100 ms or more always delays a sample.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  // Gauges that prom-client names with `_total`, a suffix Prometheus reserves for counters (promtool flags
  // them); the same counts stay in nodejs_active_handles / _requests / _resources, by type.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  new Gauge({
    name: 'mlis_build_info',
    help: 'Always 1; the labels say which process and build this is.',
    labelNames: ['process', 'version', 'revision', 'nodejs_version'] as const,
    registers: [registry],
  }).set({ process, version, revision, nodejs_version: globalThis.process.version }, 1);
  const recorded = new Set([...PROCESS_METRICS[process], ...(jobWorkflows ? LEDGER_ACTIVITY_METRICS : [])]);
  if (byTenant) for (const metric of [...PROCESS_TENANT_METRICS[process], ...(jobWorkflows ? LEDGER_ACTIVITY_TENANT_METRICS : [])]) recorded.add(metric);
  for (const metric of recorded) registry.registerMetric(metric);
  return registry;
}
