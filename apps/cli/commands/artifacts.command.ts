import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError } from 'commander';
import type { Artifact } from '../api-types';
import { durationSeconds, UsageError } from '../arguments';
import { ExitCode, printJson, type CliContext } from '../cli-context';
import { formatFields, formatNumber, formatTable, formatTime } from '../format';
import { transferProgress, type TransferProgress } from '../transfer-progress';

const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
/** The API's own bound (apps/api/artifacts/artifacts.dto.ts). */
const MAX_EXPIRES_IN_SECONDS = 10 * 365 * 24 * 3600;

export interface UploadOptions {
  name?: string;
  contentType?: string;
  expiresIn?: number;
  /** Repeating the upload with this key returns the artifact it made. */
  idempotencyKey?: string;
}

/** `--expires-in 3600`, `30m`, `12h`, `7d`. */
export function parseExpiresIn(raw: string): number {
  const seconds = durationSeconds(raw);
  if (!(seconds >= 1 && seconds <= MAX_EXPIRES_IN_SECONDS)) throw new InvalidArgumentError('must be a duration like 3600, 30m, 12h or 7d, up to ten years');
  return seconds;
}

/**
 * The sha256 of the bytes a file holds, left open for more (a download that resumes), and how many there are;
 * `progress` is told how far the read has got.
 */
async function digestOf(file: string, progress?: TransferProgress): Promise<{ hash: Hash; sizeBytes: number }> {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    sizeBytes += (chunk as Buffer).length;
    progress?.at(sizeBytes);
  }
  return { hash, sizeBytes };
}

/**
 * A stage that passes the bytes through, telling `progress` how many have gone by (from `from`); `also` sees each
 * chunk. A generator, so that an error of the source (a file that became unreadable) fails whatever reads from it.
 */
function counting(progress: TransferProgress, from: number, also?: (chunk: Buffer) => void) {
  return async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let bytes = from;
    for await (const chunk of source) {
      also?.(chunk);
      bytes += chunk.length;
      progress.at(bytes);
      yield chunk;
    }
  };
}

function formatArtifact(artifact: Artifact): string {
  return formatFields([
    ['ID', artifact.id],
    ['NAME', artifact.name ?? '-'],
    ['CONTENT TYPE', artifact.content_type],
    ['SIZE', `${formatNumber(artifact.size_bytes)} bytes`],
    ['SHA256', artifact.sha256],
    ['CREATED', `${formatTime(artifact.created_at)} by ${artifact.created_by}`],
    ['EXPIRES', artifact.expires_at ? formatTime(artifact.expires_at) : 'never'],
  ]);
}

/**
 * Uploads FILE, streamed. The file is hashed first and the digest sent along, so the API keeps nothing
 * unless exactly these bytes arrived.
 */
export async function artifactsUploadCommand(context: CliContext, file: string, options: UploadOptions): Promise<ExitCode> {
  const artifact = await uploadFile(context, file, options);
  if (context.json) printJson(context, artifact);
  else context.out(formatArtifact(artifact));
  return ExitCode.Ok;
}

/** Uploads FILE as `artifacts upload` does and returns the new artifact (also used by `submit --input`). */
export async function uploadFile(context: CliContext, file: string, options: UploadOptions): Promise<Artifact> {
  let sizeBytes: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new UsageError(`${file} is not a regular file`);
    sizeBytes = info.size;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const name = options.name ?? basename(file);
  const hashing = transferProgress(context, `hashing ${basename(file)}`, sizeBytes);
  let sha256: string;
  try {
    sha256 = (await digestOf(file, hashing)).hash.digest('hex');
  } finally {
    hashing.end();
  }
  const uploading = transferProgress(context, `uploading ${name}`, sizeBytes);
  try {
    // Opened afresh for each try: an upload sent again counts from 0.
    return await context.client.uploadArtifact(() => Readable.from(counting(uploading, 0)(createReadStream(file))), {
      name,
      contentType: options.contentType ?? DEFAULT_CONTENT_TYPE,
      expiresInSeconds: options.expiresIn,
      sha256,
      sizeBytes,
      // A key of its own without the caller's: sent again after a restart, the upload returns the artifact it made.
      idempotencyKey: options.idempotencyKey ?? randomUUID(),
    });
  } finally {
    uploading.end();
  }
}

// A download that breaks off (the connection dropped, the API restarted) picks up where it stopped this many times.
const DOWNLOAD_RESUMES = 3;

/**
 * Streams the artifact into a temporary file beside OUTPUT and renames it into place only once its sha256
 * matched the ETag: an interrupted or corrupted download never leaves a partial OUTPUT. A transfer that breaks off
 * resumes with a Range request from what the file holds (read back: bytes in flight when it broke were lost).
 */
export async function artifactsDownloadCommand(context: CliContext, id: string, output: string): Promise<ExitCode> {
  const temporary = join(dirname(output), `.${basename(output)}.${randomUUID()}.part`);
  let hash = createHash('sha256');
  let received = 0;
  let etag: string | null = null;
  let total: number | null = null;
  let progress: TransferProgress | undefined;
  // Created empty first, so that every part, the first included, appends to it.
  await writeFile(temporary, '', { flag: 'wx' });
  try {
    for (let resumes = 0; ; resumes++) {
      const part = await context.client.downloadArtifact(id, received);
      // An artifact's bytes never change (its ETag is their sha256): the first answer's ETag checks them all.
      if (resumes === 0) ({ etag, sizeBytes: total } = part);
      progress ??= transferProgress(context, `downloading ${basename(output)}`, total);
      let brokeOff: Error | undefined;
      part.body.once('error', (error: Error) => (brokeOff = error));
      try {
        await pipeline(part.body, counting(progress, received, (chunk) => hash.update(chunk)), createWriteStream(temporary, { flags: 'a' }));
        break;
      } catch (error) {
        if (brokeOff === undefined) throw error;
        ({ hash, sizeBytes: received } = await digestOf(temporary));
        // Every byte had reached the file: there is nothing left to ask for.
        if (received === total) break;
        if (resumes === DOWNLOAD_RESUMES) {
          throw new Error(`the download of artifact ${id} broke off ${resumes + 1} times, the last at byte ${received} (${brokeOff.message}); nothing was written`);
        }
        context.err(`the download broke off at byte ${received} (${brokeOff.message}); resuming (${resumes + 1} of ${DOWNLOAD_RESUMES})`);
      }
    }
    progress?.end();
    const sha256 = hash.digest('hex');
    const { size: sizeBytes } = await stat(temporary);
    if (etag !== null && etag !== `"${sha256}"`) {
      context.err(`error: the downloaded bytes hash to ${sha256}, not ${etag}; nothing was written`);
      await rm(temporary, { force: true });
      return ExitCode.Error;
    }
    await rename(temporary, output);
    if (context.json) printJson(context, { id, output, size_bytes: sizeBytes, sha256 });
    else context.out(`wrote ${formatNumber(sizeBytes)} bytes to ${output} (sha256 ${sha256})`);
    return ExitCode.Ok;
  } catch (error) {
    progress?.end();
    await rm(temporary, { force: true });
    throw error;
  }
}

export async function artifactsListCommand(context: CliContext, query: { prefix?: string; limit?: number; cursor?: string }): Promise<ExitCode> {
  const page = await context.client.listArtifacts(query);
  if (context.json) {
    printJson(context, page);
    return ExitCode.Ok;
  }
  context.out(
    page.items.length > 0
      ? formatTable(
          ['ID', 'NAME', 'SIZE', 'CONTENT_TYPE', 'CREATED', 'EXPIRES'],
          page.items.map((a) => [a.id, a.name ?? '-', formatNumber(a.size_bytes), a.content_type, formatTime(a.created_at), a.expires_at ? formatTime(a.expires_at) : 'never']),
        )
      : query.prefix === undefined ? 'no artifacts' : `no artifacts whose name starts with ${JSON.stringify(query.prefix)}`,
  );
  if (page.next_cursor) context.out(`next cursor: ${page.next_cursor}`);
  return ExitCode.Ok;
}

export async function artifactsRmCommand(context: CliContext, id: string): Promise<ExitCode> {
  await context.client.deleteArtifact(id);
  if (context.json) printJson(context, { id, deleted: true });
  else context.out(`deleted artifact ${id}`);
  return ExitCode.Ok;
}
