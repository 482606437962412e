import { createDataSource, TenantsRepository } from '@mlis/db';
import { api, env, poll, tokenFor, TERMINAL } from './support/api';

// Abuse limits on submission: per-tenant rate and queue quota (429 + Retry-After + audit), body and params bounds.

const RUN = Date.now().toString(36);
const TENANT_SCOPES = ['jobs:submit', 'jobs:read', 'jobs:cancel'];

async function createTenant(id: string, limits: Record<string, number>): Promise<void> {
  const { status, body } = await api('POST', '/v1/tenants', { id, ...limits });
  expect({ status, body }).toMatchObject({ status: 201, body: { id, ...limits } });
}

function as(tenant: string): Record<string, string> {
  return { authorization: `Bearer ${tokenFor({ tenant, sub: `${tenant}-user`, scopes: TENANT_SCOPES })}` };
}

/** Polls one of `tenant`'s jobs (as that tenant: to others it does not exist) until `done`. */
function waitForJob(tenant: string, id: string, done: (job: any) => boolean): Promise<any> {
  return poll(`job ${id} of ${tenant}`, async () => {
    const { status, body } = await api('GET', `/v1/jobs/${id}`, undefined, as(tenant));
    if (status !== 200) throw new Error(`GET job ${id}: ${status}`);
    return done(body) ? body : undefined;
  });
}

describe('submission rate per tenant', () => {
  const tenant = `rate-${RUN}`;

  it('admits submit_rate_per_minute jobs of a burst and refuses the rest with 429, Retry-After and a deny row', async () => {
    await createTenant(tenant, { submit_rate_per_minute: 5 });
    const burst = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        api('POST', '/v1/jobs', { task_type: 'sleep', params: { seconds: 0.1 } }, { ...as(tenant), 'X-Request-ID': `it-rate-${RUN}-${i}` }),
      ),
    );
    const accepted = burst.filter((r) => r.status === 202);
    const refused = burst.filter((r) => r.status === 429);
    expect(accepted).toHaveLength(5);
    expect(refused).toHaveLength(3);
    for (const response of refused) {
      expect(response.body.error.code).toBe('rate_limited');
      // A full bucket of 5 per minute gives a token back every 12 s.
      const retryAfter = Number(response.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(12);
    }

    const { body } = await api('GET', `/v1/audit?action=job.submit&result=deny&actor_tenant=${tenant}`);
    expect(body.items.map((e: any) => e.request_id).sort()).toEqual(refused.map((r) => r.headers.get('x-request-id')).sort());
    expect(body.items.every((e: any) => e.reason === 'rate_limited' && e.actor_subject === `${tenant}-user` && e.target_tenant === tenant)).toBe(true);
    const allowed = await api('GET', `/v1/audit?action=job.submit&result=allow&actor_tenant=${tenant}`);
    expect(allowed.body.items).toHaveLength(5);

    await Promise.all(accepted.map((r) => waitForJob(tenant, r.body.id, (job) => TERMINAL.includes(job.state))));
  });

  it('shares one bucket across API replicas: two connection pools racing take exactly the rate', async () => {
    const shared = `replicas-${RUN}`;
    await createTenant(shared, { submit_rate_per_minute: 10 });
    const replicas = [createDataSource(env.databaseUrl, 5), createDataSource(env.databaseUrl, 5)];
    try {
      await Promise.all(replicas.map((ds) => ds.initialize()));
      const takes = await Promise.all(
        replicas.flatMap((ds) => Array.from({ length: 10 }, () => new TenantsRepository(ds).takeSubmitToken(shared, 10))),
      );
      expect(takes.filter((take) => take.admitted)).toHaveLength(10);
    } finally {
      await Promise.all(replicas.map((ds) => ds.destroy()));
    }
  });

  it('applies a changed rate to the next submission', async () => {
    const changed = `rate-zero-${RUN}`;
    await createTenant(changed, { submit_rate_per_minute: 100 });
    expect((await api('PATCH', `/v1/tenants/${changed}`, { submit_rate_per_minute: 0 })).status).toBe(200);
    const refused = await api('POST', '/v1/jobs', { task_type: 'sleep', params: { seconds: 0.1 } }, as(changed));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('60');
  });
});

describe('max queued jobs per tenant', () => {
  const tenant = `queue-${RUN}`;
  // Fills a whole gpu node (4 cpu, 16384 MiB, 2 GPUs) so that a third one has to wait.
  const big = { task_type: 'sleep', params: { seconds: 300 }, cpu: 4, mem_mb: 16384, gpu: 2 };
  const submitted: string[] = [];

  afterAll(async () => {
    await Promise.all(submitted.map((id) => api('POST', `/v1/jobs/${id}/cancel`, undefined, as(tenant))));
    await Promise.all(submitted.map((id) => waitForJob(tenant, id, (job) => TERMINAL.includes(job.state))));
  });

  it('refuses a submission with 429 quota_exceeded once max_queued_jobs jobs wait', async () => {
    await createTenant(tenant, { max_queued_jobs: 1 });
    const headers = as(tenant);
    for (const wanted of ['RUNNING', 'RUNNING', 'QUEUED']) {
      const { status, body } = await api('POST', '/v1/jobs', big, headers);
      expect(status).toBe(202);
      submitted.push(body.id);
      if (wanted === 'RUNNING') await waitForJob(tenant, body.id, (job) => job.state === 'RUNNING');
    }
    const waiting = await api('GET', '/v1/jobs?state=QUEUED', undefined, headers);
    expect(waiting.body.items.map((job: any) => job.id)).toEqual([submitted[2]]);

    const refused = await api('POST', '/v1/jobs', big, { ...headers, 'X-Request-ID': `it-quota-${RUN}` });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('quota_exceeded');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const { body } = await api('GET', `/v1/audit?result=deny&actor_tenant=${tenant}`);
    expect(body.items).toEqual([expect.objectContaining({ request_id: `it-quota-${RUN}`, reason: 'quota_exceeded', action: 'job.submit' })]);
  });
});

describe('max queued jobs under concurrent submissions', () => {
  const tenant = `queue-race-${RUN}`;
  const accepted: string[] = [];

  afterAll(async () => {
    await Promise.all(accepted.map((id) => api('POST', `/v1/jobs/${id}/cancel`, undefined, as(tenant))));
    await Promise.all(accepted.map((id) => waitForJob(tenant, id, (job) => TERMINAL.includes(job.state))));
  });

  it('accepts exactly max_queued_jobs of 16 simultaneous submissions: the count and the insert are one transaction', async () => {
    // max_running_jobs 0 keeps every accepted job QUEUED, so each one counts.
    await createTenant(tenant, { max_queued_jobs: 4, max_running_jobs: 0 });
    const burst = await Promise.all(
      Array.from({ length: 16 }, () => api('POST', '/v1/jobs', { task_type: 'sleep', params: { seconds: 1 } }, as(tenant))),
    );
    accepted.push(...burst.filter((r) => r.status === 202).map((r) => r.body.id as string));
    expect(burst.map((r) => r.status).sort()).toEqual([...Array(4).fill(202), ...Array(12).fill(429)]);
    expect(new Set(burst.filter((r) => r.status === 429).map((r) => r.body.error.code))).toEqual(new Set(['quota_exceeded']));
    const waiting = await api('GET', '/v1/jobs?state=QUEUED', undefined, as(tenant));
    expect(waiting.body.items).toHaveLength(4);
  });
});

describe('request and params bounds', () => {
  it('answers 413 payload_too_large for a body over the limit', async () => {
    const body = JSON.stringify({ task_type: 'sleep', params: { pad: 'x'.repeat(2 * 1024 * 1024) } });
    const { status, body: error } = await api('POST', '/v1/jobs', body);
    expect(status).toBe(413);
    expect(error.error.code).toBe('payload_too_large');
  });

  it('answers 400 validation_failed for params nested deeper than 8 levels', async () => {
    let deep: unknown = { seconds: 1 };
    for (let i = 0; i < 8; i += 1) deep = { nested: deep };
    const { status, body } = await api('POST', '/v1/jobs', { task_type: 'sleep', params: deep });
    expect(status).toBe(400);
    expect(body.error.code).toBe('validation_failed');
    expect(body.error.details).toEqual([expect.objectContaining({ field: 'params' })]);
  });
});
