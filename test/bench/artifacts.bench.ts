import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { loadConfig } from '@mlis/config';
import { median } from './support/stats';

// `npm run bench:artifacts` against a running stack (`npm run up`, or MLIS_API_URL and MLIS_TOKEN): uploads and
// downloads 200 MiB through the API and compares the rates with what dd gets from the disk under the store's folder,
// and counts the full collections the API ran for them (ADR 0058). Prints a markdown table and writes
// .mlis/bench/artifacts.json.
const ROOT = resolve(__dirname, '../../..');
const MiB = 1024 * 1024;
const SIZE_MIB = 200;
const RUNS = 3;

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

async function main(): Promise<void> {
  const config = loadConfig();
  const token = config.token ?? readFileSync(config.tokenFile, 'utf8').trim();
  const auth = { authorization: `Bearer ${token}` };
  const base = randomBytes(MiB);
  const chunks = Array.from({ length: SIZE_MIB }, (_, i) => {
    const copy = Buffer.from(base);
    copy.writeUInt32BE(i, 0);
    return copy;
  });
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

  const result = {
    size_mib: SIZE_MIB,
    runs: RUNS,
    backend: config.artifacts.backend,
    upload_mib_s: Math.round(median(upload)),
    download_mib_s: Math.round(median(download)),
    dd_write_fdatasync_mib_s: Math.round(median(ddWrite)),
    dd_read_cached_mib_s: Math.round(median(ddRead)),
    api_major_collections_per_round_trip: Number((majorCollections / RUNS).toFixed(1)),
  };
  mkdirSync(join(ROOT, '.mlis/bench'), { recursive: true });
  writeFileSync(join(ROOT, '.mlis/bench/artifacts.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`| artifact transfer (${SIZE_MIB} MiB, ${config.artifacts.backend} store, median of ${RUNS}) | MiB/s | local disk (dd) | MiB/s |`);
  console.log('|---|---|---|---|');
  const committed = config.artifacts.backend === 'fs' ? "fsync'd, renamed" : 'multipart, copied into place';
  console.log(`| upload (streamed, sha256 checked, ${committed}) | ${result.upload_mib_s} | write, conv=fdatasync | ${result.dd_write_fdatasync_mib_s} |`);
  console.log(`| download (streamed) | ${result.download_mib_s} | read, page cache | ${result.dd_read_cached_mib_s} |`);
  console.log(`\nThe API's full collections: ${result.api_major_collections_per_round_trip} a round trip (${majorCollections} in ${RUNS}).`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : String(error));
  process.exit(1);
});
