import type { LoggerService } from '@nestjs/common';
import express from 'express';
import request from 'supertest';
import { accessLogMiddleware } from './access-log.middleware';
import { requestIdMiddleware } from './request-context';

class CapturingLogger implements LoggerService {
  readonly lines: unknown[] = [];
  readonly debugLines: unknown[] = [];
  debug(message: unknown): void {
    this.debugLines.push(message);
  }
  log(message: unknown): void {
    this.lines.push(message);
  }
  error(message: unknown): void {
    this.lines.push(message);
  }
  warn(message: unknown): void {
    this.lines.push(message);
  }
}

describe(accessLogMiddleware.name, () => {
  it('logs method, path, status, duration and request id, and nothing from the body, query or headers', async () => {
    const logger = new CapturingLogger();
    const app = express();
    app.use(requestIdMiddleware);
    app.use(accessLogMiddleware(logger));
    app.use(express.json());
    app.post('/v1/jobs', (_req, res) => {
      res.status(202).json({ ok: true });
    });

    const response = await request(app)
      .post('/v1/jobs?token=query-secret')
      .set('Authorization', 'Bearer header-secret')
      .set('X-Request-ID', 'req-1')
      .send({ params: { password: 'body-secret' } })
      .expect(202);

    expect(response.headers['x-request-id']).toBe('req-1');
    const deadline = Date.now() + 2_000;
    while (logger.lines.length === 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    expect(logger.lines).toEqual([{ method: 'POST', path: '/v1/jobs', status: 202, ms: expect.any(Number), request_id: 'req-1' }]);
    expect(JSON.stringify(logger.lines)).not.toMatch(/secret/);
  });

  it('logs successful node heartbeats and start reports at debug, failed ones at the normal level', async () => {
    const logger = new CapturingLogger();
    const app = express();
    app.use(requestIdMiddleware);
    app.use(accessLogMiddleware(logger));
    app.post('/v1/internal/nodes/:id/heartbeat', (req, res) => {
      res.status(req.params.id === 'gone' ? 404 : 200).json({});
    });
    app.post('/v1/internal/nodes/:id/assignments/:assignmentId/started', (req, res) => {
      res.status(req.params.assignmentId === 'ended' ? 409 : 200).json({});
    });
    await request(app).post('/v1/internal/nodes/cpu-1/heartbeat').expect(200);
    await request(app).post('/v1/internal/nodes/gone/heartbeat').expect(404);
    await request(app).post('/v1/internal/nodes/cpu-1/assignments/a-1/started').expect(200);
    await request(app).post('/v1/internal/nodes/cpu-1/assignments/ended/started').expect(409);
    const deadline = Date.now() + 2_000;
    while (logger.lines.length + logger.debugLines.length < 4 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    expect(logger.debugLines).toEqual([
      expect.objectContaining({ path: '/v1/internal/nodes/cpu-1/heartbeat', status: 200 }),
      expect.objectContaining({ path: '/v1/internal/nodes/cpu-1/assignments/a-1/started', status: 200 }),
    ]);
    expect(logger.lines).toEqual([
      expect.objectContaining({ path: '/v1/internal/nodes/gone/heartbeat', status: 404 }),
      expect.objectContaining({ path: '/v1/internal/nodes/cpu-1/assignments/ended/started', status: 409 }),
    ]);
  });

  it('logs a request whose client went away before the answer as aborted, with no status', async () => {
    const logger = new CapturingLogger();
    const app = express();
    app.use(requestIdMiddleware);
    app.use(accessLogMiddleware(logger));
    app.post('/v1/artifacts', (req, res) => {
      res.status(201);
      req.socket.destroy();
    });
    await expect(request(app).post('/v1/artifacts').send('bytes')).rejects.toThrow(/socket hang up|ECONNRESET/);
    const deadline = Date.now() + 2_000;
    while (logger.lines.length === 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    expect(logger.lines).toEqual([{ method: 'POST', path: '/v1/artifacts', status: null, ms: expect.any(Number), request_id: expect.any(String), aborted: true }]);
  });
});
