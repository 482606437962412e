import { createHash, randomBytes } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import request from 'supertest';
import { createS3Client } from '@mlis/artifacts';
import { useS3TestServer } from '../../../test/support/s3-test-server';
import { createTestApp, type TestApp } from '../testing/test-app';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const endpoint = useS3TestServer();

/** supertest's own parsers would buffer or decode the body: keep the raw bytes. */
function binary(res: request.Response, callback: (error: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => callback(null, Buffer.concat(chunks)));
}

// The same API on the s3 backend, against a real S3-compatible server: uploads stream into multipart staging.
describe('artifacts API on the s3 backend', () => {
  let t: TestApp;
  let token: string;
  const bucket = `mlis-api-${Date.now()}`;
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

  async function keys(): Promise<string[]> {
    const client = createS3Client({ endpoint: endpoint(), region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    return (page.Contents ?? []).map((object) => object.Key ?? '').sort();
  }

  beforeAll(async () => {
    // The SDK reads its credentials from the environment, as in production.
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
    t = await createTestApp({ MLIS_ARTIFACTS_BACKEND: 's3', MLIS_S3_ENDPOINT: endpoint(), MLIS_S3_BUCKET: bucket }, { auth: 'real' });
    token = t.userToken();
    // The app creates its bucket at start: the first request to a fresh moto loads its S3 backend, which takes
    // seconds on a busy machine (the default 5 s hook timeout failed a clean-clone CI run).
  }, 120_000);

  afterAll(async () => {
    await t?.app.close();
    for (const [name, value] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('streams an upload of several parts in and back out, whole and by range; a mismatch keeps nothing', async () => {
    const bytes = randomBytes(20 * 1024 * 1024 + 3);
    const created = await request(t.app.getHttpServer())
      .post(`/v1/artifacts?sha256=${sha256(bytes)}`)
      .set('Authorization', `Bearer ${token}`)
      .set('Content-Type', 'application/octet-stream')
      .send(bytes)
      .expect(201);
    expect(created.body).toMatchObject({ size_bytes: bytes.length, sha256: sha256(bytes) });
    expect(await keys()).toEqual([`sha256/${sha256(bytes).slice(0, 2)}/${sha256(bytes)}`]);

    const whole = await request(t.app.getHttpServer()).get(`/v1/artifacts/${created.body.id}`).set('Authorization', `Bearer ${token}`).buffer(true).parse(binary).expect(200);
    expect((whole.body as Buffer).equals(bytes)).toBe(true);
    const range = await request(t.app.getHttpServer())
      .get(`/v1/artifacts/${created.body.id}`)
      .set('Authorization', `Bearer ${token}`)
      .set('Range', 'bytes=10485760-10485769')
      .buffer(true)
      .parse(binary)
      .expect(206);
    expect((range.body as Buffer).equals(bytes.subarray(10485760, 10485770))).toBe(true);

    const other = randomBytes(9 * 1024 * 1024);
    await request(t.app.getHttpServer())
      .post(`/v1/artifacts?sha256=${sha256(bytes)}`)
      .set('Authorization', `Bearer ${token}`)
      .set('Content-Type', 'application/octet-stream')
      .send(other)
      .expect(400);
    expect(await keys()).toEqual([`sha256/${sha256(bytes).slice(0, 2)}/${sha256(bytes)}`]);

    await request(t.app.getHttpServer()).delete(`/v1/artifacts/${created.body.id}`).set('Authorization', `Bearer ${token}`).expect(204);
    expect(await keys()).toEqual([]);
    // ~50 MiB through moto (a Python server) and back: seconds on a quiet machine, more when the cores are shared.
  }, 60_000);
});
