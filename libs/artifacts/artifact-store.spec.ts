import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { ChecksumMismatchError, ObjectMissingError, ObjectTooLargeError, StoreFullError, type ArtifactStore } from './artifact-store';
import { loadConfig } from '@mlis/config';
import { createArtifactStore } from './create-artifact-store';
import { FsArtifactStore } from './fs-artifact.store';
import { createS3Client, isStoreRefusal, S3ArtifactStore } from './s3-artifact.store';
import { useS3TestServer } from '../../test/support/s3-test-server';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/** Yields `bytes` in chunks, then fails: a client that went away mid-upload. */
function failingAfter(bytes: Buffer): Readable {
  return new Readable({
    read() {
      this.push(bytes);
      this.destroy(new Error('client went away'));
    },
  });
}

interface Backend {
  store: ArtifactStore;
  /** Every key or file the backend holds, staging included. */
  listAll(): Promise<string[]>;
}

/** The same behaviour is required of every backend. */
function storeSuite(name: string, open: () => Promise<Backend>, close: () => Promise<void>): void {
  describe(`${name} artifact store`, () => {
    let backend: Backend;
    beforeAll(async () => {
      backend = await open();
    }, 120_000);
    afterAll(close);

    it('stores bytes under their sha256 and reads them back, whole and by range', async () => {
      // Above one multipart part (8 MiB) so the S3 backend streams it in parts.
      const bytes = randomBytes(9 * 1024 * 1024 + 17);
      const stored = await backend.store.put(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]));
      expect(stored).toEqual({ sha256: sha256(bytes), sizeBytes: bytes.length });
      expect(await backend.store.exists(stored.sha256)).toBe(true);
      expect((await buffer(await backend.store.get(stored.sha256))).equals(bytes)).toBe(true);
      expect((await buffer(await backend.store.get(stored.sha256, { start: 10, end: 19 }))).equals(bytes.subarray(10, 20))).toBe(true);
      const last = bytes.length - 1;
      expect((await buffer(await backend.store.get(stored.sha256, { start: last, end: last }))).equals(bytes.subarray(last))).toBe(true);
    });

    it('says it would take an upload', async () => {
      await expect(backend.store.check()).resolves.toBeUndefined();
    });

    it('stores an empty object', async () => {
      const stored = await backend.store.put(Readable.from([Buffer.alloc(0)]));
      expect(stored).toEqual({ sha256: sha256(Buffer.alloc(0)), sizeBytes: 0 });
      expect((await buffer(await backend.store.get(stored.sha256))).length).toBe(0);
    });

    it('keeps one copy of the same bytes, and delete removes it', async () => {
      const bytes = randomBytes(1024);
      const first = await backend.store.put(Readable.from([bytes]));
      const second = await backend.store.put(Readable.from([bytes]));
      expect(second).toEqual(first);
      expect((await backend.listAll()).filter((key) => key.endsWith(first.sha256))).toHaveLength(1);
      await backend.store.delete(first.sha256);
      expect(await backend.store.exists(first.sha256)).toBe(false);
      await expect(backend.store.get(first.sha256)).rejects.toBeInstanceOf(ObjectMissingError);
      await backend.store.delete(first.sha256);
    });

    it('keeps nothing when the expected sha256 does not match', async () => {
      const bytes = randomBytes(2048);
      const wrong = sha256(Buffer.from('something else'));
      const before = await backend.listAll();
      await expect(backend.store.put(Readable.from([bytes]), { expectedSha256: wrong })).rejects.toEqual(
        new ChecksumMismatchError(wrong, sha256(bytes)),
      );
      expect(await backend.store.exists(sha256(bytes))).toBe(false);
      expect(await backend.listAll()).toEqual(before);
    });

    it('stops at the size limit and keeps nothing', async () => {
      const bytes = randomBytes(64 * 1024);
      const before = await backend.listAll();
      await expect(backend.store.put(Readable.from([bytes]), { maxBytes: 1000 })).rejects.toBeInstanceOf(ObjectTooLargeError);
      expect(await backend.store.exists(sha256(bytes))).toBe(false);
      expect(await backend.listAll()).toEqual(before);
      // Exactly at the limit is allowed.
      expect((await backend.store.put(Readable.from([bytes.subarray(0, 1000)]), { maxBytes: 1000 })).sizeBytes).toBe(1000);
    });

    it('keeps nothing visible or staged when the source fails mid-upload', async () => {
      const bytes = randomBytes(9 * 1024 * 1024);
      const before = await backend.listAll();
      await expect(backend.store.put(failingAfter(bytes))).rejects.toThrow('client went away');
      expect(await backend.store.exists(sha256(bytes))).toBe(false);
      expect(await backend.listAll()).toEqual(before);
    });

    it('a staged upload is invisible until committed, and discard drops it', async () => {
      const bytes = randomBytes(4096);
      const staged = await backend.store.stage(Readable.from([bytes]));
      expect(staged.sha256).toBe(sha256(bytes));
      expect(await backend.store.exists(staged.sha256)).toBe(false);
      await staged.commit();
      expect(await backend.store.exists(staged.sha256)).toBe(true);
      // A discard after the commit (an upload's clean-up cannot always tell) leaves the object.
      await staged.discard();
      expect(await backend.store.exists(staged.sha256)).toBe(true);

      const other = randomBytes(4096);
      const before = await backend.listAll();
      const dropped = await backend.store.stage(Readable.from([other]));
      expect((await backend.listAll()).length).toBe(before.length + 1);
      await dropped.discard();
      expect(await backend.listAll()).toEqual(before);
      expect(await backend.store.exists(dropped.sha256)).toBe(false);
    });

    it('sweeps staged uploads older than the given age, and only those', async () => {
      const staged = await backend.store.stage(Readable.from([randomBytes(100)]));
      expect(await backend.store.sweepStaging(60_000)).toBe(0);
      const keys = await backend.listAll();
      expect(await backend.store.sweepStaging(-1_000)).toBe(1);
      expect((await backend.listAll()).length).toBe(keys.length - 1);
      await staged.discard();
    });
  });
}

let fsRoot: string;
storeSuite(
  'fs',
  async () => {
    fsRoot = await mkdtemp(join(tmpdir(), 'mlis-artifacts-'));
    const list = async (dir: string): Promise<string[]> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      const nested = await Promise.all(entries.map((entry) => (entry.isDirectory() ? list(join(dir, entry.name)) : [join(dir, entry.name)])));
      return nested.flat().sort();
    };
    return { store: new FsArtifactStore(fsRoot), listAll: () => list(fsRoot) };
  },
  () => rm(fsRoot, { recursive: true, force: true }),
);

describe('fs artifact store whose folder cannot be written', () => {
  it('fails its check: a file stands where the folder should be', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'mlis-artifacts-check-'));
    try {
      await writeFile(join(parent, 'store'), '');
      await expect(new FsArtifactStore(join(parent, 'store')).check()).rejects.toThrow(/ENOTDIR|EEXIST/);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});

describe('fs artifact store on a full disk', () => {
  const fs = jest.requireActual<typeof import('node:fs')>('node:fs');
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'mlis-artifacts-full-'));
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await rm(root, { recursive: true, force: true });
  });

  /** The staging file takes its first chunk, then the disk is full: the write fails as the kernel's does. */
  function diskFullAfterFirstChunk(): void {
    const createWriteStream = fs.createWriteStream;
    jest.spyOn(fs, 'createWriteStream').mockImplementationOnce((path, options) => {
      const stream = createWriteStream(path, options);
      const write = stream._write.bind(stream);
      let chunks = 0;
      // One chunk per write, so the second one is the one refused.
      Object.assign(stream, { _writev: null });
      stream._write = (chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void) => {
        chunks += 1;
        if (chunks === 1) write(chunk, encoding, callback);
        else callback(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
      };
      return stream;
    });
  }

  it('refuses the upload as StoreFullError and keeps no partial file', async () => {
    const store = new FsArtifactStore(root);
    diskFullAfterFirstChunk();
    const bytes = randomBytes(64 * 1024);
    const error = await store.put(Readable.from([bytes.subarray(0, 1024), bytes.subarray(1024)])).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StoreFullError);
    expect((error as StoreFullError).cause).toMatchObject({ code: 'ENOSPC' });
    expect(await readdir(join(root, 'staging'))).toEqual([]);
    expect(await store.exists(sha256(bytes))).toBe(false);
    // Space again: the same upload is stored.
    expect(await store.put(Readable.from([bytes]))).toEqual({ sha256: sha256(bytes), sizeBytes: bytes.length });
  });

  it('passes other write errors on unchanged', async () => {
    const store = new FsArtifactStore(root);
    const createWriteStream = fs.createWriteStream;
    jest.spyOn(fs, 'createWriteStream').mockImplementationOnce((path, options) => {
      const stream = createWriteStream(path, options);
      stream._write = (_chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void) =>
        callback(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' }));
      return stream;
    });
    await expect(store.put(Readable.from([randomBytes(10)]))).rejects.toMatchObject({ code: 'EIO' });
    expect(await readdir(join(root, 'staging'))).toEqual([]);
  });
});

const s3Endpoint = useS3TestServer();

storeSuite(
  's3',
  async () => {
    const endpoint = s3Endpoint();
    const client = createS3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const bucket = `mlis-spec-${Date.now()}-${process.pid}`;
    // The bucket does not exist yet: the store's first call creates it.
    const store = new S3ArtifactStore(client, bucket);
    const listAll = async (): Promise<string[]> => {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys.sort();
    };
    return { store, listAll };
  },
  async () => undefined,
);

describe(createArtifactStore.name, () => {
  it('builds the fs backend under MLIS_ARTIFACTS_DIR', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlis-artifacts-config-'));
    const store = createArtifactStore(loadConfig({ MLIS_ARTIFACTS_DIR: dir }).artifacts);
    const stored = await store.put(Readable.from([Buffer.from('configured')]));
    expect((await readdir(join(dir, 'sha256', stored.sha256.slice(0, 2))))).toEqual([stored.sha256]);
    await rm(dir, { recursive: true, force: true });
  });

  // Credentials come from the SDK's usual environment variables.
  it('builds the s3 backend from MLIS_S3_* and creates a missing bucket', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = 'test';
    process.env.AWS_SECRET_ACCESS_KEY = 'test';
    try {
      const config = loadConfig({ MLIS_ARTIFACTS_BACKEND: 's3', MLIS_S3_ENDPOINT: s3Endpoint(), MLIS_S3_BUCKET: `mlis-config-${Date.now()}` });
      const store = createArtifactStore(config.artifacts);
      expect(store.backend).toBe('s3');
      const stored = await store.put(Readable.from([Buffer.from('configured')]));
      expect((await buffer(await store.get(stored.sha256))).toString()).toBe('configured');
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved.id;
      process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });
});

describe('s3 artifact store made while its server is down', () => {
  it('checks and creates the bucket on a later call once the server answers', async () => {
    // A port with nothing behind it yet, later a plain TCP relay to the test server: the server "comes up".
    const server = new URL(s3Endpoint());
    const relay = createServer((socket) => {
      const upstream = connect(Number(server.port), server.hostname);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const { port } = relay.address() as AddressInfo;
    await new Promise<void>((resolve) => relay.close(() => resolve()));
    const client = createS3Client({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const store = new S3ArtifactStore(client, `mlis-late-${Date.now()}-${process.pid}`);
    try {
      await expect(store.exists('0'.repeat(64))).rejects.toThrow();
      await expect(store.check()).rejects.toThrow();
      await new Promise<void>((resolve) => relay.listen(port, '127.0.0.1', resolve));
      await store.check();
      const stored = await store.put(Readable.from([Buffer.from('after the outage')]));
      expect((await buffer(await store.get(stored.sha256))).toString()).toBe('after the outage');
    } finally {
      client.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  });
});

describe('s3 artifact store against a server that stops answering', () => {
  it('gives a request up once its socket has been silent for the idle timeout, instead of waiting for ever', async () => {
    // Takes connections and reads requests, never answers: a hung S3 server or a half-open connection.
    const silent = createServer((socket) => socket.on('data', () => undefined));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as AddressInfo;
      const client = createS3Client(
        { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } },
        { connectMs: 1000, idleMs: 300 },
      );
      const store = new S3ArtifactStore(client, 'silent-bucket');
      const started = Date.now();
      await expect(store.sweepStaging(0)).rejects.toThrow();
      // Well under the time the SDK's own retries of a hung request would otherwise take: for ever.
      expect(Date.now() - started).toBeLessThan(10_000);
      client.destroy();
    } finally {
      silent.close();
    }
  });
});

describe('s3 artifact store whose server refuses its credential', () => {
  it("fails every call with the server's error answer, which isStoreRefusal recognizes; a socket error is not one", async () => {
    // Answers every request as S3 answers a revoked key: 403 with an S3 error document (HEAD requests get no body).
    const refusing = createHttpServer((req, res) => {
      req.resume();
      res.writeHead(403, { 'content-type': 'application/xml', 'x-amz-request-id': 'test' });
      res.end(req.method === 'HEAD' ? undefined : '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    const { port } = refusing.address() as AddressInfo;
    const client = createS3Client({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'revoked', secretAccessKey: 'revoked' } });
    const store = new S3ArtifactStore(client, 'refused-bucket');
    try {
      const refusals = await Promise.all(
        [store.check(), store.exists('0'.repeat(64)), store.get('0'.repeat(64)), store.put(Readable.from([Buffer.from('bytes')])), store.delete('0'.repeat(64))].map((call) =>
          call.then(
            () => 'answered',
            (error: unknown) => error,
          ),
        ),
      );
      for (const refusal of refusals) {
        expect(refusal).toBeInstanceOf(Error);
        expect(isStoreRefusal(refusal)).toBe(true);
      }
      expect(refusals.filter((refusal) => refusal instanceof ObjectMissingError)).toEqual([]);
      expect(isStoreRefusal(new Error('wrapper', { cause: refusals[0] }))).toBe(true);
      expect(isStoreRefusal(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' }))).toBe(false);
    } finally {
      client.destroy();
      await new Promise<void>((resolve) => refusing.close(() => resolve()));
    }
  });
});
