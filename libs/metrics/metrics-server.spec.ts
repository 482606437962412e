import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { startMetricsServer, type Readiness } from './metrics-server';

async function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string | null; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
}

describe(startMetricsServer.name, () => {
  it('answers /health/ready from the readiness it is given: 503 until ready, 200 with its fields then', async () => {
    let state: Readiness = { ready: false, node: 'cpu-1', pid: 42, incarnation: null };
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0, registry: new Registry(), readiness: () => state });
    try {
      const { port } = server.address() as AddressInfo;
      const before = await get(port, '/health/ready');
      expect(before.status).toBe(503);
      expect(before.type).toBe('application/json');
      expect(JSON.parse(before.body)).toEqual({ ready: false, node: 'cpu-1', pid: 42, incarnation: null });

      state = { ready: true, node: 'cpu-1', pid: 42, incarnation: 7 };
      const after = await get(port, '/health/ready?verbose=1');
      expect(after.status).toBe(200);
      expect(JSON.parse(after.body)).toEqual({ ready: true, node: 'cpu-1', pid: 42, incarnation: 7 });

      expect((await get(port, '/health/ready', 'POST')).status).toBe(404);
      expect((await get(port, '/metrics')).status).toBe(200);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('serves no readiness without one: control has nothing to answer it with', async () => {
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0, registry: new Registry() });
    try {
      const { port } = server.address() as AddressInfo;
      expect((await get(port, '/health/ready')).status).toBe(404);
      expect((await get(port, '/metrics')).status).toBe(200);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
