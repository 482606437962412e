import type { LoggerService } from '@nestjs/common';
import express from 'express';
import request from 'supertest';
import { accessLogMiddleware } from './access-log.middleware';
import { requestIdMiddleware } from './request-context';

class CapturingLogger implements LoggerService {
  readonly lines: unknown[] = [];
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
});
