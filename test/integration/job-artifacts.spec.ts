import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { ApiEndpoints } from '../../apps/worker/api-endpoints';
import { ArtifactTransferError, NodeArtifacts } from '../../apps/worker/node-artifacts';
import { AssignmentNotLiveError } from '@mlis/runners';
import { loadConfig } from '@mlis/config';
import { ASSIGNMENT_HEADER, jobWorkflowId } from '@mlis/contracts';
import { api, env, poll, stackBootstrapSecret, submit, tokenFor, waitForJob, withDb } from './support/api';
import { metricsUrl, parseSamples, scrape, valueOf } from './support/metrics';

/** The stack runs with the default threshold; read it the way its processes do. */
const THRESHOLD = loadConfig(env.processEnv).inlinePayloadMaxBytes;
const OTHER_TENANT = `it-art-${randomUUID().slice(0, 8)}`;
// A node only this spec's jobs select (by label); the spec heartbeats it itself and never runs its assignments.
const NODE_ID = `it-art-node-${randomUUID().slice(0, 8)}`;
const NODE_LABELS = { 'it-artifacts': NODE_ID };

function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** POST /v1/artifacts with raw bytes; returns the ArtifactResponse. */
async function upload(bytes: Buffer, token = tokenFor()): Promise<{ id: string; sha256: string }> {
  const response = await fetch(`${env.apiUrl}/v1/artifacts?name=input.txt`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
    body: bytes,
  });
  const body = (await response.json()) as { id: string; sha256: string };
  if (response.status !== 201) throw new Error(`upload answered ${response.status}: ${JSON.stringify(body)}`);
  return body;
}

/** Every Temporal payload's data in the job workflow's history: anything shaped like one (metadata + data bytes). */
function payloads(value: unknown, found: Buffer[] = []): Buffer[] {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return found;
  const candidate = value as { metadata?: unknown; data?: unknown };
  if (candidate.data instanceof Uint8Array && candidate.metadata !== undefined) {
    found.push(Buffer.from(candidate.data));
    return found;
  }
  for (const item of Object.values(value)) payloads(item, found);
  return found;
}

async function jobRowSizes(jobId: string): Promise<{ params: number; result: number }> {
  return withDb(async (db) => {
    const { rows } = await db.query<{ params: number; result: number }>(
      `SELECT octet_length(params::text) AS params, coalesce(octet_length(result::text), 0) AS result FROM jobs WHERE id = $1`,
      [jobId],
    );
    return rows[0];
  });
}

async function links(jobId: string): Promise<{ artifact_id: string; role: string }[]> {
  return withDb(async (db) => (await db.query(`SELECT artifact_id, role FROM job_artifacts WHERE job_id = $1 ORDER BY role, artifact_id`, [jobId])).rows);
}

async function artifactBytesOut(): Promise<number> {
  return valueOf(parseSamples(await scrape(metricsUrl('api'))), 'mlis_artifact_bytes_total', { direction: 'out' }) ?? 0;
}

async function resultOf(jobId: string): Promise<{ status: number; type: string | null; body: string }> {
  const response = await fetch(`${env.apiUrl}/v1/jobs/${jobId}/result`, { headers: { authorization: `Bearer ${tokenFor()}` } });
  return { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
}

describe('jobs and artifacts: references, offloaded params and results, worker access', () => {
  let temporal: Client;

  beforeAll(async () => {
    temporal = new Client({ connection: await Connection.connect({ address: env.temporalAddress }) });
    expect((await api('POST', '/v1/tenants', { id: OTHER_TENANT, name: OTHER_TENANT })).status).toBe(201);
  });
  afterAll(async () => {
    await temporal.connection.close();
  });

  async function historyPayloads(jobId: string): Promise<Buffer[]> {
    const history = await temporal.workflow.getHandle(jobWorkflowId(jobId)).fetchHistory();
    return payloads(history.events);
  }

  async function historyPayloadSizes(jobId: string): Promise<number[]> {
    return (await historyPayloads(jobId)).map((data) => data.length);
  }

  it('a 1 MB result and 1 MB of params travel as artifacts: no workflow payload or job row above the threshold, /result returns it whole', async () => {
    const text = 'the quick brown fox jumps over the lazy dog; '.repeat(22_300).slice(0, 1_000_000);
    const job = await submit({ task_type: 'echo', params: { text } });
    expect(job.params).toBeNull();
    expect(job.params_artifact).toMatch(/^[0-9a-f-]{36}$/);

    const done = await waitForJob(job.id, (j) => j.state === 'SUCCEEDED' || j.state === 'FAILED');
    expect(done.state).toBe('SUCCEEDED');
    expect(done.result).toBeNull();
    expect(done.result_artifact).toMatch(/^[0-9a-f-]{36}$/);

    const sentBefore = await artifactBytesOut();
    const result = await resultOf(job.id);
    expect(result.status).toBe(200);
    expect(result.type).toMatch(/^application\/json/);
    expect(result.body.length).toBeGreaterThan(1_000_000);
    // The API counts what it serves from the artifact store, through /result too.
    expect((await artifactBytesOut()) - sentBefore).toBeGreaterThanOrEqual(result.body.length);
    expect(JSON.parse(result.body)).toEqual({ params: { text }, artifacts: {} });

    const history = await historyPayloads(job.id);
    // Not vacuous: the workflow input, the activity's input and output and the ledger calls' markers are all there,
    // the node's output carrying the result artifact's id (the ledger call that records it is a local activity, whose
    // input stays out of the history: ADR 0018), the workflow's and the activity's inputs the params artifact's.
    expect(history.length).toBeGreaterThan(5);
    expect(history.filter((data) => data.toString('utf8').includes(done.result_artifact)).length).toBeGreaterThanOrEqual(1);
    expect(history.filter((data) => data.toString('utf8').includes(job.params_artifact)).length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...history.map((data) => data.length))).toBeLessThanOrEqual(THRESHOLD);
    const rows = await jobRowSizes(job.id);
    expect(rows.params).toBeLessThanOrEqual(THRESHOLD);
    expect(rows.result).toBeLessThanOrEqual(THRESHOLD);

    expect(await links(job.id)).toEqual(
      [
        { artifact_id: job.params_artifact, role: 'params' },
        { artifact_id: done.result_artifact, role: 'result' },
      ].sort((a, b) => a.role.localeCompare(b.role)),
    );
    // The node uploaded the result into the job's tenant.
    const meta = await api('GET', `/v1/artifacts/${done.result_artifact}/meta`);
    expect(meta.status).toBe(200);
    expect(meta.body).toMatchObject({ tenant_id: 'default', content_type: 'application/json', size_bytes: result.body.length, sha256: sha256(result.body) });
    expect(meta.body.created_by).toMatch(/^node:/);
  }, 120_000);

  it("never serves another tenant's artifact as a job's result, whatever id the node reported", async () => {
    // What a node that ran jobs of two tenants could report: the id of an artifact it read for the other one.
    const foreign = await upload(Buffer.from('the other tenant’s bytes'), tokenFor({ tenant: OTHER_TENANT }));
    const job = await submit({ task_type: 'echo', params: { hello: 'world' } });
    await waitForJob(job.id, (j) => j.state === 'SUCCEEDED');
    await withDb((db) => db.query('UPDATE jobs SET result = NULL, result_artifact_id = $2 WHERE id = $1', [job.id, foreign.id]));
    const result = await resultOf(job.id);
    expect(result.status).toBe(404);
    expect(JSON.parse(result.body).error.code).toBe('artifact_not_found');
    expect(result.body).not.toContain('other tenant');
  });

  it('params just above the threshold are stored aside and still reach the runner; a small result stays inline', async () => {
    const params = { rows: Array.from({ length: 1_000 }, (_, i) => ({ i, label: `row ${i} `.repeat(8) })) };
    expect(JSON.stringify(params).length).toBeGreaterThan(THRESHOLD);
    const big = await submit({ task_type: 'echo', params });
    expect(big.params_artifact).not.toBeNull();
    const doneBig = await waitForJob(big.id, (j) => j.state === 'SUCCEEDED' || j.state === 'FAILED');
    expect(doneBig.state).toBe('SUCCEEDED');
    expect(JSON.parse((await resultOf(big.id)).body)).toEqual({ params, artifacts: {} });
    expect(Math.max(...(await historyPayloadSizes(big.id)))).toBeLessThanOrEqual(THRESHOLD);

    const small = await submit({ task_type: 'echo', params: { hello: 'world' } });
    expect(small).toMatchObject({ params: { hello: 'world' }, params_artifact: null });
    const doneSmall = await waitForJob(small.id, (j) => j.state === 'SUCCEEDED' || j.state === 'FAILED');
    expect(doneSmall).toMatchObject({ state: 'SUCCEEDED', result: { params: { hello: 'world' }, artifacts: {} }, result_artifact: null });
    const inline = await resultOf(small.id);
    expect(inline.status).toBe(200);
    expect(JSON.parse(inline.body)).toEqual(doneSmall.result);
  }, 120_000);

  it('an idempotent replay compares offloaded params by content', async () => {
    const key = `it-art-${randomUUID()}`;
    const params = { pad: 'p'.repeat(THRESHOLD), a: 1, b: 2 };
    const first = await api('POST', '/v1/jobs', { task_type: 'echo', params }, { 'idempotency-key': key });
    expect(first.status).toBe(202);
    expect(first.body.params_artifact).not.toBeNull();

    // The same params with their keys in another order: the same request.
    const again = await api('POST', '/v1/jobs', { task_type: 'echo', params: { b: 2, a: 1, pad: params.pad } }, { 'idempotency-key': key });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);

    const changed = await api('POST', '/v1/jobs', { task_type: 'echo', params: { ...params, b: 3 } }, { 'idempotency-key': key });
    expect(changed.status).toBe(409);
    expect(changed.body.error.code).toBe('idempotency_conflict');
    await waitForJob(first.body.id, (j) => j.state === 'SUCCEEDED' || j.state === 'FAILED');

    // Once the job has ended its params artifact may go (retention, or a delete): a repeat still returns the job.
    expect((await api('DELETE', `/v1/artifacts/${first.body.params_artifact}`)).status).toBe(204);
    const later = await api('POST', '/v1/jobs', { task_type: 'echo', params }, { 'idempotency-key': key });
    expect(later.status).toBe(200);
    expect(later.body.id).toBe(first.body.id);
    expect((await api('POST', '/v1/jobs', { task_type: 'echo', params: { ...params, b: 3 } }, { 'idempotency-key': key })).status).toBe(409);
  }, 120_000);

  it('links referenced artifacts as inputs that the node reads; a missing or other tenant’s reference is 422 and nothing is kept', async () => {
    const bytes = Buffer.from('one line of input\n'.repeat(1000));
    const input = await upload(bytes);
    const ref = `artifact://${input.id}`;
    const job = await submit({ task_type: 'echo', params: { nested: [{ input: ref }] } });
    const done = await waitForJob(job.id, (j) => j.state === 'SUCCEEDED' || j.state === 'FAILED');
    expect(done.state).toBe('SUCCEEDED');
    expect(done.result.artifacts).toEqual({ [ref]: { sha256: sha256(bytes), size_bytes: bytes.length, content_type: 'text/plain' } });
    expect(await links(job.id)).toEqual([{ artifact_id: input.id, role: 'input' }]);

    const submitter = `it-art-refused-${randomUUID()}`;
    const token = tokenFor({ sub: submitter });
    const missing = await api('POST', '/v1/jobs', { task_type: 'echo', params: { nested: [{ input: `artifact://${randomUUID()}` }] } }, { authorization: `Bearer ${token}` });
    expect(missing.status).toBe(422);
    expect(missing.body.error.code).toBe('artifact_not_found');
    expect(missing.body.error.details).toEqual([{ field: 'params.nested[0].input', problem: expect.stringMatching(/not found/) }]);

    const theirs = await upload(Buffer.from('their data'), tokenFor({ tenant: OTHER_TENANT }));
    const requestId = `it-art-${randomUUID()}`;
    const other = await api(
      'POST',
      '/v1/jobs',
      { task_type: 'echo', params: { model: `artifact://${theirs.id}` } },
      { authorization: `Bearer ${token}`, 'x-request-id': requestId },
    );
    expect(other.status).toBe(422);
    const denials = await withDb(
      async (db) => (await db.query(`SELECT action, resource, result, reason, target_tenant FROM audit_events WHERE request_id = $1`, [requestId])).rows,
    );
    expect(denials).toEqual([{ action: 'job.submit', resource: `artifact/${theirs.id}`, result: 'deny', reason: 'other_tenant', target_tenant: OTHER_TENANT }]);
    expect(other.body.error.code).toBe('artifact_not_found');
    expect(other.body.error.details).toEqual([{ field: 'params.model', problem: expect.stringMatching(/not found/) }]);
    // Told apart from a missing one by nothing: the same message shape.
    expect(other.body.error.message).toBe(missing.body.error.message);

    const malformed = await api('POST', '/v1/jobs', { task_type: 'echo', params: { input: 'artifact://not-a-uuid' } }, { authorization: `Bearer ${token}` });
    expect(malformed.status).toBe(422);
    expect(malformed.body.error.details).toEqual([{ field: 'params.input', problem: expect.stringMatching(/artifact:\/\/<uuid>/) }]);

    const kept = await withDb(async (db) => (await db.query(`SELECT count(*)::int AS n FROM jobs WHERE submitted_by = $1`, [submitter])).rows[0].n);
    expect(kept).toBe(0);
  }, 120_000);

  describe('a worker token', () => {
    let heartbeat: NodeJS.Timeout | undefined;
    const cacheDir = mkdtempSync(join(tmpdir(), 'mlis-it-node-cache-'));

    afterAll(async () => {
      clearInterval(heartbeat);
      rmSync(cacheDir, { recursive: true, force: true });
      // Specs that list every node expect only the stack's: remove this one with the attempts it was given.
      await withDb(async (db) => {
        await db.query('BEGIN');
        await db.query('DELETE FROM job_assignments WHERE node_id = $1', [NODE_ID]);
        await db.query('DELETE FROM nodes WHERE id = $1', [NODE_ID]);
        await db.query('COMMIT');
      });
    });

    it('reads only the artifacts of the assignment it names, and only while that assignment is live', async () => {
      const register = async (): Promise<{ workerToken: string; incarnation: number }> => {
        const registered = await api(
          'POST',
          '/v1/internal/nodes/register',
          { node_id: NODE_ID, group: 'cpu', hostname: 'it-host', pid: 4242, slots: 2, cpu_millis: 2000, mem_mb: 1024, gpus: [], labels: NODE_LABELS },
          { authorization: `Bearer ${stackBootstrapSecret()}` },
        );
        expect(registered.status).toBe(200);
        const body = registered.body as { worker_token: string; incarnation: number };
        return { workerToken: body.worker_token, incarnation: body.incarnation };
      };
      let current = await register();
      const { workerToken } = current;
      heartbeat = setInterval(() => {
        api('POST', `/v1/internal/nodes/${NODE_ID}/heartbeat`, { incarnation: current.incarnation }, { authorization: `Bearer ${current.workerToken}` }).catch(
          () => undefined,
        );
      }, 500);

      const mine = await upload(Buffer.from('input of job X'));
      const others = await upload(Buffer.from('input of job Y'));
      const onNode = { task_type: 'echo', node_selector: NODE_LABELS };
      const x = await submit({ ...onNode, params: { input: `artifact://${mine.id}` } });
      const y = await submit({ ...onNode, params: { input: `artifact://${others.id}` } });
      try {
        // Nobody polls the node's queue: the assignment stays PLACED (live) until its schedule-to-start timeout.
        const placed = await poll('job X placed on the spec node', async () => {
          const { body } = await api('GET', `/v1/jobs/${x.id}`);
          const latest = body.latest_assignment;
          return latest?.node_id === NODE_ID && latest.state === 'PLACED' ? latest : undefined;
        }, { timeoutMs: 30_000 });
        const node = new NodeArtifacts({ api: new ApiEndpoints([env.apiUrl]), cacheDir, token: () => workerToken });

        const local = await node.open(placed.id, `artifact://${mine.id}`);
        expect(readFileSync(local.path, 'utf8')).toBe('input of job X');
        expect(local.sha256).toBe(mine.sha256);

        const refused = await node.open(placed.id, `artifact://${others.id}`).catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(ArtifactTransferError);
        expect(refused).toMatchObject({ status: 404 });
        const raw = await api('GET', `/v1/artifacts/${others.id}`, undefined, { authorization: `Bearer ${workerToken}`, [ASSIGNMENT_HEADER]: placed.id });
        expect(raw.status).toBe(404);
        expect(raw.body.error.code).toBe('artifact_not_found');

        // The node restarts: its next incarnation picks up what was placed on this one and may read for it; the
        // replaced incarnation (a zombie) is told that the assignment is not live on it, so it gives the attempt up.
        current = await register();
        const restarted = new NodeArtifacts({ api: new ApiEndpoints([env.apiUrl]), cacheDir, token: () => current.workerToken });
        expect((await restarted.open(placed.id, `artifact://${mine.id}`)).sha256).toBe(mine.sha256);
        await expect(node.open(placed.id, `artifact://${mine.id}`)).rejects.toBeInstanceOf(AssignmentNotLiveError);
        const zombie = await api('GET', `/v1/artifacts/${mine.id}/meta`, undefined, { authorization: `Bearer ${workerToken}`, [ASSIGNMENT_HEADER]: placed.id });
        expect(zombie.status).toBe(409);
        expect(zombie.body.error.code).toBe('assignment_not_live');

        // Its heartbeats (through the API) lapsed during an API outage and control marked it DEAD: the attempt
        // still holds its lease, and still reads.
        await withDb((db) => db.query(`UPDATE nodes SET status = 'DEAD' WHERE id = $1`, [NODE_ID]));
        expect((await restarted.open(placed.id, `artifact://${mine.id}`)).sha256).toBe(mine.sha256);

        // Once the assignment has ended the same request is refused, although the bytes sit in the node's cache.
        expect((await api('POST', `/v1/jobs/${x.id}/cancel`)).status).toBe(202);
        await waitForJob(x.id, (j) => j.state === 'CANCELLED');
        await expect(restarted.open(placed.id, `artifact://${mine.id}`)).rejects.toBeInstanceOf(AssignmentNotLiveError);
      } finally {
        for (const id of [x.id, y.id]) await api('POST', `/v1/jobs/${id}/cancel`);
        await waitForJob(y.id, (j) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(j.state));
      }
    }, 120_000);
  });
});
