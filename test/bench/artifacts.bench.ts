import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '@mlis/config';
import { Client } from 'pg';
import { median, percentile } from './support/stats';

// `npm run bench:artifacts` against a running stack (`npm run up`, or MLIS_API_URL and MLIS_TOKEN): uploads and
// downloads 200 MiB through the API and compares the rates with what dd gets from the disk under the store's folder,
// and counts the full collections the API ran for them (ADR 0058). Then 16 uploads of 64 MiB at once while one client
// submits a job every 50 ms: the longest an upload's transaction stayed open (ADR 0061: no longer across the store's
// commit) and the submissions' latency. Prints markdown tables and writes .mlis/bench/artifacts.json.
const ROOT = resolve(__dirname, '../../..');
const MiB = 1024 * 1024;
const SIZE_MIB = 200;
const RUNS = 3;
const CONCURRENT_UPLOADS = 16;
const CONCURRENT_MIB = 64;
const SUBMIT_EVERY_MS = 50;

/** dd's own rate line, e.g. "209715200 bytes (210 MB, 200 MiB) copied, 0.61 s, 344 MB/s", as MiB/s. */
function dd(args: string[]): number {
  const result = spawnSync('dd', args, { encoding: 'utf8' });
  const match = /(\d+) bytes .* copied, ([\d.]+) s/.exec(result.stderr);
  if (result.status !== 0 || !match) throw new Error(`dd ${args.join(' ')} failed: ${result.stderr}`);
  return Number(match[1]) / MiB / Number(match[2]);
}

function send(method: string, url: URL, headers: Record<string, string>, body?: Readable): Promise<IncomingMessage> {
  return new Promise((resolvePromise, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path: url.pathname + url.search, headers }, resolvePromise);
    req.on('error', reject);
    if (body) pipeline(body, req).catch(reject);
    else req.end();
  });
}

/** How many full (mark-compact) collections the API has run, from its /metrics (none reported yet: 0). */
async function apiMajorCollections(apiUrl: string): Promise<number> {
  const text = await (await fetch(new URL('/metrics', apiUrl))).text();
  return Number(/^nodejs_gc_duration_seconds_count\{kind="major"\} (\S+)$/m.exec(text)?.[1] ?? 0);
}

/** The `i`th MiB of a body made from `base`: a copy with `i` and `seed` written in, so no two MiB are alike. */
function chunkOf(base: Buffer, i: number, seed = 0): Buffer {
  const copy = Buffer.from(base);
  copy.writeUInt32BE(i, 0);
  copy.writeUInt32BE(seed, 4);
  return copy;
}

/** `mib` MiB that differ per MiB and per `seed`, generated as they are sent. */
function generatedBody(mib: number, seed: number): Readable {
  const base = randomBytes(MiB);
  return Readable.from(
    (function* () {
      for (let i = 0; i < mib; i += 1) yield chunkOf(base, i, seed);
    })(),
  );
}

interface ConcurrentUploads {
  uploads: number;
  upload_mib: number;
  wall_s: number;
  /** The longest an upload's transaction (a statement on artifacts or pending_uploads) was seen open, ms. */
  longest_upload_transaction_ms: number;
  submissions: number;
  submit_p50_ms: number;
  submit_p99_ms: number;
  submit_max_ms: number;
}

/**
 * Uploads at once while one client submits a `sleep` job every SUBMIT_EVERY_MS, sampling pg_stat_activity every 20 ms:
 * what a burst of large uploads does to the database connections the job path shares with them.
 */
async function concurrentUploads(apiUrl: string, auth: Record<string, string>, databaseUrl: string): Promise<ConcurrentUploads> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  let done = false;
  let longestUploadTransaction = 0;
  const sampling = (async () => {
    while (!done) {
      const { rows } = await db.query<{ age_ms: number; query: string }>(
        `SELECT CAST(extract(epoch FROM now() - xact_start) * 1000 AS float8) AS age_ms, query FROM pg_stat_activity
         WHERE application_name = 'mlis' AND datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle' AND xact_start IS NOT NULL`,
      );
      for (const row of rows) {
        if (/artifacts|pending_uploads|artifact-content/.test(row.query)) longestUploadTransaction = Math.max(longestUploadTransaction, row.age_ms);
      }
      await sleep(20);
    }
  })();
  const submitted: number[] = [];
  const submitting = (async () => {
    while (!done) {
      const started = performance.now();
      const res = await fetch(new URL('/v1/jobs', apiUrl), {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ task_type: 'sleep', params: { seconds: 0.01 }, cpu: 1 }),
      });
      await res.text();
      if (res.status !== 202) throw new Error(`a submission answered ${res.status}`);
      submitted.push(performance.now() - started);
      await sleep(SUBMIT_EVERY_MS);
    }
  })();
  const started = performance.now();
  try {
    const ids = await Promise.all(
      Array.from({ length: CONCURRENT_UPLOADS }, async (_, seed) => {
        const res = await send(
          'POST',
          new URL('/v1/artifacts?name=bench-concurrent.bin&expires_in_seconds=3600', apiUrl),
          { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(CONCURRENT_MIB * MiB) },
          generatedBody(CONCURRENT_MIB, seed),
        );
        let text = '';
        for await (const chunk of res) text += String(chunk);
        if (res.statusCode !== 201) throw new Error(`a concurrent upload answered ${res.statusCode}: ${text}`);
        return (JSON.parse(text) as { id: string }).id;
      }),
    );
    const wall = (performance.now() - started) / 1000;
    done = true;
    // A refused submission or a failed sample fails the benchmark, not only the loop it ran in.
    await Promise.all([sampling, submitting]);
    for (const id of ids) await send('DELETE', new URL(`/v1/artifacts/${id}`, apiUrl), auth).then((r) => r.resume());
    return {
      uploads: CONCURRENT_UPLOADS,
      upload_mib: CONCURRENT_MIB,
      wall_s: Number(wall.toFixed(1)),
      longest_upload_transaction_ms: Math.round(longestUploadTransaction),
      submissions: submitted.length,
      submit_p50_ms: Math.round(percentile(submitted, 50)),
      submit_p99_ms: Math.round(percentile(submitted, 99)),
      submit_max_ms: Math.round(Math.max(...submitted)),
    };
  } finally {
    // After a failed upload: stop both loops before the connection they use goes.
    done = true;
    await Promise.allSettled([sampling, submitting]);
    await db.end();
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const token = config.token ?? readFileSync(config.tokenFile, 'utf8').trim();
  const auth = { authorization: `Bearer ${token}` };
  const base = randomBytes(MiB);
  const chunks = Array.from({ length: SIZE_MIB }, (_, i) => chunkOf(base, i));
  const sha256 = chunks.reduce((hash, chunk) => hash.update(chunk), createHash('sha256')).digest('hex');

  // dd on the disk the fs store writes to: with fdatasync, as the store syncs every upload before committing it.
  mkdirSync(config.artifacts.dir, { recursive: true });
  const scratch = mkdtempSync(join(config.artifacts.dir, '..', 'bench-dd-'));
  const file = join(scratch, 'dd.bin');
  const ddWrite: number[] = [];
  const ddRead: number[] = [];
  for (let run = 0; run < RUNS; run += 1) {
    ddWrite.push(dd(['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${SIZE_MIB}`, 'conv=fdatasync']));
    // Read back as the API does: through the page cache (the file was just written, like an artifact just uploaded).
    ddRead.push(dd([`if=${file}`, 'of=/dev/null', 'bs=1M']));
  }
  rmSync(scratch, { recursive: true, force: true });

  const upload: number[] = [];
  const download: number[] = [];
  const majorCollectionsBefore = await apiMajorCollections(config.apiUrl);
  for (let run = 0; run < RUNS; run += 1) {
    let started = performance.now();
    const created = await send(
      'POST',
      new URL(`/v1/artifacts?sha256=${sha256}&name=bench.bin&expires_in_seconds=3600`, config.apiUrl),
      { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(SIZE_MIB * MiB) },
      Readable.from(chunks),
    );
    let text = '';
    for await (const chunk of created) text += String(chunk);
    if (created.statusCode !== 201) throw new Error(`upload answered ${created.statusCode}: ${text}`);
    upload.push(SIZE_MIB / ((performance.now() - started) / 1000));
    const { id } = JSON.parse(text) as { id: string };

    started = performance.now();
    const res = await send('GET', new URL(`/v1/artifacts/${id}`, config.apiUrl), auth);
    const hash = createHash('sha256');
    for await (const chunk of res) hash.update(chunk as Buffer);
    download.push(SIZE_MIB / ((performance.now() - started) / 1000));
    if (res.statusCode !== 200 || hash.digest('hex') !== sha256) throw new Error(`download answered ${res.statusCode} or other bytes`);
    await send('DELETE', new URL(`/v1/artifacts/${id}`, config.apiUrl), auth).then((r) => r.resume());
  }
  const majorCollections = (await apiMajorCollections(config.apiUrl)) - majorCollectionsBefore;
  const concurrent = await concurrentUploads(config.apiUrl, auth, config.databaseUrl);

  const result = {
    size_mib: SIZE_MIB,
    runs: RUNS,
    backend: config.artifacts.backend,
    upload_mib_s: Math.round(median(upload)),
    download_mib_s: Math.round(median(download)),
    dd_write_fdatasync_mib_s: Math.round(median(ddWrite)),
    dd_read_cached_mib_s: Math.round(median(ddRead)),
    api_major_collections_per_round_trip: Number((majorCollections / RUNS).toFixed(1)),
    concurrent,
  };
  mkdirSync(join(ROOT, '.mlis/bench'), { recursive: true });
  writeFileSync(join(ROOT, '.mlis/bench/artifacts.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`| artifact transfer (${SIZE_MIB} MiB, ${config.artifacts.backend} store, median of ${RUNS}) | MiB/s | local disk (dd) | MiB/s |`);
  console.log('|---|---|---|---|');
  const committed = config.artifacts.backend === 'fs' ? "fsync'd, renamed" : 'multipart, copied into place';
  console.log(`| upload (streamed, sha256 checked, ${committed}) | ${result.upload_mib_s} | write, conv=fdatasync | ${result.dd_write_fdatasync_mib_s} |`);
  console.log(`| download (streamed) | ${result.download_mib_s} | read, page cache | ${result.dd_read_cached_mib_s} |`);
  console.log(`\nThe API's full collections: ${result.api_major_collections_per_round_trip} a round trip (${majorCollections} in ${RUNS}).`);
  console.log(`\n| ${CONCURRENT_UPLOADS} uploads of ${CONCURRENT_MIB} MiB at once, a job submitted every ${SUBMIT_EVERY_MS} ms | |`);
  console.log('|---|---|');
  console.log(`| the uploads' wall time, s | ${concurrent.wall_s} |`);
  console.log(`| the longest an upload's transaction stayed open, ms | ${concurrent.longest_upload_transaction_ms} |`);
  console.log(`| submissions: p50 / p99 / max, ms (${concurrent.submissions}) | ${concurrent.submit_p50_ms} / ${concurrent.submit_p99_ms} / ${concurrent.submit_max_ms} |`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : String(error));
  process.exit(1);
});
