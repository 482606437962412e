import { api, poll, TERMINAL, tokenFor, withDb } from './support/api';

const GPU_NODES = ['gpu-1', 'gpu-2'];

async function submitAs(tenant: string, job: Record<string, unknown>): Promise<string> {
  const { status, body } = await api('POST', '/v1/jobs', job, { authorization: `Bearer ${tokenFor({ tenant })}` });
  if (status !== 202) throw new Error(`submit for ${tenant} answered ${status}: ${JSON.stringify(body)}`);
  return body.id as string;
}

async function states(ids: string[]): Promise<string[]> {
  return withDb(async (db) => (await db.query(`SELECT state FROM jobs WHERE id = ANY($1::uuid[])`, [ids])).rows.map((r) => r.state as string));
}

/** GPU-seconds each tenant's assignments held within [from, to] (reservation time, clipped to the window). */
async function gpuSeconds(tenants: string[], from: string, to: string): Promise<Record<string, number>> {
  const rows = await withDb(
    async (db) =>
      (
        await db.query(
          `SELECT j.tenant_id,
                  sum(cardinality(a.gpu_ids) * extract(epoch FROM least(coalesce(a.ended_at, now()), $3::timestamptz) - greatest(a.created_at, $2::timestamptz)))::float8 AS seconds
           FROM job_assignments a JOIN jobs j ON j.id = a.job_id
           WHERE j.tenant_id = ANY($1::text[]) AND a.created_at < $3::timestamptz AND coalesce(a.ended_at, now()) > $2::timestamptz
           GROUP BY j.tenant_id`,
          [tenants, from, to],
        )
      ).rows,
  );
  return Object.fromEntries(rows.map((r) => [r.tenant_id, r.seconds]));
}

describe('fair share between tenants on the real stack', () => {
  jest.setTimeout(180_000);

  afterAll(async () => {
    for (const node of GPU_NODES) await api('POST', `/v1/workers/${node}/undrain`);
  });

  it('gives two equal-weight tenants GPU-seconds within 10 % while both wait, though one submitted 10x more jobs', async () => {
    const suffix = Date.now().toString(36);
    const [heavy, light] = [`fair-heavy-${suffix}`, `fair-light-${suffix}`];
    for (const id of [heavy, light]) expect((await api('POST', '/v1/tenants', { id, name: id })).status).toBe(201);

    // No GPU capacity while the queue fills, so the scheduler sees both tenants' backlogs at once.
    for (const node of GPU_NODES) expect((await api('POST', `/v1/workers/${node}/drain`)).status).toBe(200);
    const job = { task_type: 'sleep', params: { seconds: 2 }, cpu: 1, mem_mb: 256, gpu: 1 };
    const heavyJobs: string[] = [];
    for (let i = 0; i < 100; i++) heavyJobs.push(await submitAs(heavy, job));
    const lightJobs: string[] = [];
    for (let i = 0; i < 10; i++) lightJobs.push(await submitAs(light, job));

    for (const node of GPU_NODES) expect((await api('POST', `/v1/workers/${node}/undrain`)).status).toBe(200);
    await poll('the light tenant to finish its 10 jobs', async () => ((await states(lightJobs)).every((s) => TERMINAL.includes(s)) ? true : undefined), {
      timeoutMs: 120_000,
    });
    expect(await states(lightJobs)).toEqual(lightJobs.map(() => 'SUCCEEDED'));

    // The window in which both tenants had jobs waiting: from the first placement to the light tenant's last
    // placement (after it, the light tenant has nothing left to ask for and the heavy one rightly takes the rest).
    const [window] = await withDb(
      async (db) =>
        (
          await db.query(
            `SELECT min(a.created_at)::text AS "from", max(a.created_at) FILTER (WHERE j.tenant_id = $2)::text AS "to"
             FROM job_assignments a JOIN jobs j ON j.id = a.job_id WHERE j.tenant_id = ANY($1::text[])`,
            [[heavy, light], light],
          )
        ).rows,
    );
    const seconds = await gpuSeconds([heavy, light], window.from, window.to);
    const difference = Math.abs(seconds[heavy] - seconds[light]) / ((seconds[heavy] + seconds[light]) / 2);
    console.log(
      `fair share: heavy ${seconds[heavy].toFixed(1)} GPU-s, light ${seconds[light].toFixed(1)} GPU-s, difference ${(difference * 100).toFixed(1)} %`,
    );
    expect(difference).toBeLessThan(0.1);

    // The heavy tenant's backlog is not needed any more.
    for (const id of heavyJobs) await api('POST', `/v1/jobs/${id}/cancel`, undefined, { authorization: `Bearer ${tokenFor({ tenant: heavy })}` });
    await poll('the heavy backlog to end', async () => ((await states(heavyJobs)).every((s) => TERMINAL.includes(s)) ? true : undefined));
  });
});
