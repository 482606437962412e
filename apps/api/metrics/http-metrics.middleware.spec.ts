import express from 'express';
import request from 'supertest';
import { httpRequestDuration } from '@mlis/metrics';
import { httpMetricsMiddleware } from './http-metrics.middleware';

async function countOf(labels: Record<string, string>): Promise<number> {
  const { values } = await httpRequestDuration.get();
  const match = values.find(
    (v) => v.metricName?.endsWith('_count') && Object.entries(labels).every(([k, value]) => (v.labels as Record<string, unknown>)[k] === value),
  );
  return match?.value ?? 0;
}

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!(await check()) && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
}

describe(httpMetricsMiddleware.name, () => {
  it('labels requests with the matched route pattern and status class, and unknown paths as "unmatched"', async () => {
    const app = express();
    app.use(httpMetricsMiddleware());
    app.get('/m-spec/jobs/:id', (req, res) => {
      res.status(req.params.id === 'missing' ? 404 : 200).json({});
    });
    const ok = { method: 'GET', route: '/m-spec/jobs/:id', status_class: '2xx' };
    const missing = { ...ok, status_class: '4xx' };
    const unmatched = { method: 'GET', route: 'unmatched', status_class: '4xx' };
    const before = [await countOf(ok), await countOf(missing), await countOf(unmatched)];

    await request(app).get('/m-spec/jobs/a1').expect(200);
    await request(app).get('/m-spec/jobs/b2').expect(200);
    await request(app).get('/m-spec/jobs/missing').expect(404);
    await request(app).get('/m-spec/no/such/path').expect(404);
    await until(async () => (await countOf(unmatched)) > before[2]);

    expect([await countOf(ok), await countOf(missing), await countOf(unmatched)]).toEqual([before[0] + 2, before[1] + 1, before[2] + 1]);
    const { values } = await httpRequestDuration.get();
    // Ids never become label values.
    expect(values.some((v) => String(v.labels.route).includes('a1'))).toBe(false);
  });

  it('keeps long-polls (?wait= above 0) apart from the route’s plain reads', async () => {
    const app = express();
    app.use(httpMetricsMiddleware());
    app.get('/m-spec/wait/:id', (_req, res) => {
      res.json({});
    });
    const plain = { method: 'GET', route: '/m-spec/wait/:id', status_class: '2xx' };
    const waiting = { ...plain, route: '/m-spec/wait/:id?wait' };
    const before = [await countOf(plain), await countOf(waiting)];

    await request(app).get('/m-spec/wait/a1?wait=30').expect(200);
    await request(app).get('/m-spec/wait/a1?wait=0').expect(200);
    await request(app).get('/m-spec/wait/a1').expect(200);
    await until(async () => (await countOf(plain)) >= before[0] + 2 && (await countOf(waiting)) >= before[1] + 1);

    expect([await countOf(plain), await countOf(waiting)]).toEqual([before[0] + 2, before[1] + 1]);
  });
});
