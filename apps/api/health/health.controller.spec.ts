import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { createTestApp, type TestApp } from '../testing/test-app';
import { HealthController } from './health.controller';

describe(HealthController.name, () => {
  let t: TestApp;

  beforeEach(async () => {
    t = await createTestApp({ MLIS_WORKER_GROUPS: 'cpu,gpu' });
  });

  afterEach(async () => {
    await t.app.close();
  });

  const http = () => request(t.app.getHttpServer());

  it('live answers ok without touching dependencies', async () => {
    t.db.healthy = false;
    t.temporal.healthy = false;
    expect((await http().get('/health/live').expect(200)).body).toEqual({ status: 'ok' });
  });

  it('ready answers 200 when Postgres and Temporal answer', async () => {
    const response = await http().get('/health/ready').expect(200);
    expect(response.body).toEqual({ status: 'ok', checks: { postgres: 'ok', temporal: 'ok' } });
  });

  it.each([
    ['Postgres', { postgres: 'failed', temporal: 'ok' }],
    ['Temporal', { postgres: 'ok', temporal: 'failed' }],
  ])('ready answers 503 naming %s when it fails, without its error text', async (name, checks) => {
    if (name === 'Postgres') t.db.healthy = false;
    else t.temporal.healthy = false;
    const response = await http().get('/health/ready').expect(503);
    expect(response.body).toEqual({ status: 'unavailable', checks });
    expect(response.headers['x-request-id']).toEqual(expect.any(String));
    expect(JSON.stringify(response.body)).not.toMatch(/ECONNREFUSED|UNAVAILABLE/);
  });

  it('ready/full answers 200 with live counts when every configured group has a live node', async () => {
    t.nodes.liveCounts = async () => new Map([['cpu', 2], ['gpu', 1], ['other', 3]]);
    const response = await http().get('/health/ready/full').expect(200);
    expect(response.body).toEqual({
      status: 'ok',
      checks: { postgres: 'ok', temporal: 'ok', workers: 'ok', artifacts: 'ok' },
      groups: { cpu: 2, gpu: 1 },
    });
  });

  it('ready/full answers 503 when a group has no live node', async () => {
    t.nodes.liveCounts = async () => new Map([['cpu', 2]]);
    const response = await http().get('/health/ready/full').expect(503);
    expect(response.body).toEqual({
      status: 'unavailable',
      checks: { postgres: 'ok', temporal: 'ok', workers: 'failed', artifacts: 'ok' },
      groups: { cpu: 2, gpu: 0 },
    });
  });

  it('ready/full answers 503 when a dependency fails even if every group is live', async () => {
    t.nodes.liveCounts = async () => new Map([['cpu', 1], ['gpu', 1]]);
    t.temporal.healthy = false;
    const response = await http().get('/health/ready/full').expect(503);
    expect(response.body.checks).toEqual({ postgres: 'ok', temporal: 'failed', workers: 'ok', artifacts: 'ok' });
  });

  it('ready/full answers 503 without counts when they cannot be read', async () => {
    t.nodes.liveCounts = async () => {
      throw new Error('connection terminated');
    };
    const response = await http().get('/health/ready/full').expect(503);
    expect(response.body).toEqual({ status: 'unavailable', checks: { postgres: 'ok', temporal: 'ok', workers: 'failed', artifacts: 'ok' } });
  });

  it('ready/full answers 503 naming the artifact store when it would not take an upload; ready stays 200', async () => {
    await t.app.close();
    // A file where the store's folder should be: nothing can be staged under it.
    const notADirectory = join(mkdtempSync(join(tmpdir(), 'mlis-health-')), 'file');
    writeFileSync(notADirectory, '');
    t = await createTestApp({ MLIS_WORKER_GROUPS: 'cpu,gpu', MLIS_ARTIFACTS_DIR: notADirectory });
    t.nodes.liveCounts = async () => new Map([['cpu', 1], ['gpu', 1]]);
    const response = await http().get('/health/ready/full').expect(503);
    expect(response.body.checks).toEqual({ postgres: 'ok', temporal: 'ok', workers: 'ok', artifacts: 'failed' });
    expect(JSON.stringify(response.body)).not.toContain('ENOTDIR');
    await http().get('/health/ready').expect(200);
  });
});
