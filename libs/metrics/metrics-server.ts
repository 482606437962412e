import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface MetricsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** More exposition text appended to the registry's (the Temporal SDK's metrics), or '' when there is none. */
  extra?: () => Promise<string>;
  /** Served as GET /health/ready: 200 with the fields when `ready`, else 503. None: that path is not served. */
  readiness?: () => Readiness;
}

/** Whether the process does its work now, with what identifies it (a node's pid and incarnation). */
export interface Readiness {
  ready: boolean;
  [field: string]: unknown;
}

/**
 * GET /metrics for a process that has no HTTP server of its own (control, nodes), and GET /health/ready when given
 * `readiness`. Resolves once listening.
 */
export async function startMetricsServer({ host, port, registry, extra, readiness }: MetricsServerOptions): Promise<Server> {
  const server = createServer((req, res) => {
    const path = req.method === 'GET' ? req.url?.split('?')[0] : undefined;
    if (path === '/health/ready' && readiness) {
      const state = readiness();
      res.writeHead(state.ready ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(state));
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    Promise.all([registry.metrics(), extra ? extra() : ''])
      .then(([own, more]) => {
        res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' });
        res.end(more ? `${own}\n${more}` : own);
      })
      .catch((error: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`metrics failed: ${error instanceof Error ? error.message : String(error)}\n`);
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
