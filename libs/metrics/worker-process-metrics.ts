import type { Server } from 'node:http';
import { createServer } from 'node:net';
import type { Logger } from '@temporalio/common';
import { Runtime } from '@temporalio/worker';
import { setTemporalCoreThreads } from '@mlis/config';
import { startMetricsServer, type Readiness } from './metrics-server';
import { createProcessRegistry } from './process-registry';

// Imported by the processes that run Temporal workers (control, nodes, the API): @temporalio/worker loads the native core.

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Installs the process's Temporal runtime with our logger, on `coreThreads` tokio worker threads (MLIS_TEMPORAL_CORE_THREADS,
 * ADR 0060), and, unless `labels` is null, its Prometheus exporter (task slots, poll and schedule-to-start latency, in
 * seconds, counters with `_total`) on a loopback port only this process knows; returns a reader of that exposition,
 * which the process's own /metrics appends. One endpoint per process keeps scrape configuration to one target.
 * `labels` go on every series. Must run before the first Temporal connection of the process.
 */
export async function installTemporalRuntime(
  logger: Logger,
  labels: Record<string, string> | null,
  coreThreads: number,
): Promise<(() => Promise<string>) | undefined> {
  setTemporalCoreThreads(coreThreads);
  if (labels === null) {
    Runtime.install({ logger });
    return undefined;
  }
  const port = await freeLoopbackPort();
  Runtime.install({
    logger,
    telemetryOptions: {
      metrics: {
        prometheus: { bindAddress: `127.0.0.1:${port}`, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true },
        globalTags: labels,
        // The scrape's job and instance labels already say which process this is.
        attachServiceName: false,
      },
    },
  });
  return async () => {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) throw new Error(`the Temporal runtime's metrics answered ${response.status}`);
    return response.text();
  };
}

export interface WorkerProcessMetricsOptions {
  process: 'control' | 'node';
  /** Where the Temporal runtime's own logs go. */
  logger: Logger;
  /** The runtime's tokio worker threads (MLIS_TEMPORAL_CORE_THREADS). */
  coreThreads: number;
  host: string;
  /** 0: no metrics server, and the Temporal runtime keeps its default telemetry. */
  port: number;
  revision: string;
  /** On every series of the process, the Temporal SDK's included (a node's group and id). */
  labels?: Record<string, string>;
  /** Serve the process's metrics by tenant too (MLIS_METRICS_TENANT_LABEL=top:N). */
  byTenant?: boolean;
  /** Also serve GET /health/ready from this (a node: registered and polling its queue). */
  readiness?: () => Readiness;
}

/**
 * Installs the Temporal runtime of a worker process (control, node) with our logger and, unless the port is 0,
 * serves its /metrics: its own metrics and the SDK's. Call before connecting to Temporal.
 */
export async function installWorkerRuntime(options: WorkerProcessMetricsOptions): Promise<Server | undefined> {
  const { process, logger, coreThreads, host, port, revision, labels, byTenant, readiness } = options;
  const readTemporal = await installTemporalRuntime(logger, port === 0 ? null : (labels ?? {}), coreThreads);
  if (!readTemporal) return undefined;
  const registry = createProcessRegistry(process, { revision, defaultLabels: labels, byTenant });
  return startMetricsServer({ host, port, registry, extra: readTemporal, readiness });
}
