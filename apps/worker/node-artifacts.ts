import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
// The file, not the barrel: that would load the AWS SDK (the S3 store) into every node.
import { DigestingCounter } from '@mlis/artifacts/artifact-store';
import { ApiErrorCode, ASSIGNMENT_HEADER, parseArtifactRef } from '@mlis/contracts';
import { AssignmentNotLiveError, type ArtifactReader, type LocalArtifact } from '@mlis/runners';
import { artifactBytes } from '@mlis/metrics';
import { unavailable, type ApiEndpoints } from './api-endpoints';

/** What the artifacts API answers for `/meta` and for an upload (the fields the node uses). */
interface ArtifactMeta {
  id: string;
  sha256: string;
  size_bytes: number;
  content_type: string;
}

/** The API refused or failed an artifact read or write; `status` is its HTTP status (0: no answer). */
export class ArtifactTransferError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface NodeArtifactsOptions {
  /** The node's APIs, shared with its registration: a transfer the preferred one fails is asked again at the next. */
  api: ApiEndpoints;
  /** The node's cache directory; artifacts land in it as `<sha256>`, partial downloads under `tmp/`. */
  cacheDir: string;
  /** The node's current worker token (it changes when the node registers again); never logged. */
  token: () => string;
  /**
   * Resolves once the node's heartbeat in flight, if any, has finished: a registration again in it replaces the token.
   * A refusal as not live waits for it, and is asked again if the token changed.
   */
  tokenSettled?: () => Promise<void>;
  /** The first wait before asking again after an unreachable API or a 5xx/429; each further wait is one more of it, up to ten. */
  retryMs?: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Per request, for the headers and metadata; a download's body may take longer. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Tries of a transfer that no attempt's signal bounds. */
const UNBOUND_ATTEMPTS = 3;

/**
 * The error for an answer other than the one expected, with the API's error code and message when it sent them;
 * an AssignmentNotLiveError when the API says the assignment is no longer live on this node incarnation.
 */
function refused(what: string, status: number, body: string): ArtifactTransferError | AssignmentNotLiveError {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } };
    if (parsed.error) {
      const message = `${what}: HTTP ${status} ${parsed.error.code}: ${parsed.error.message}`;
      return parsed.error.code === ApiErrorCode.AssignmentNotLive ? new AssignmentNotLiveError(message) : new ArtifactTransferError(message, status);
    }
  } catch {
    // Not the API's error body (a proxy's page): the status alone.
  }
  return new ArtifactTransferError(`${what}: HTTP ${status}`, status);
}

/**
 * A node's access to artifacts through the API, with its worker token and the assignment it acts for (the API
 * allows only that job's artifacts, only while the assignment is live). Reads land in a cache keyed by sha256
 * that every job on the node shares; the access check (`/meta`) runs on every open, a cache hit or not.
 */
export class NodeArtifacts {
  /** Downloads in progress, by sha256, with the assignment each runs for: concurrent opens of the same bytes share one. */
  private readonly downloads = new Map<string, { assignmentId: string; done: Promise<void> }>();

  constructor(private readonly options: NodeArtifactsOptions) {}

  /** The ArtifactReader a runner gets for one assignment. */
  reader(assignmentId: string): ArtifactReader {
    return { open: (ref, signal) => this.open(assignmentId, ref, signal) };
  }

  async open(assignmentId: string, ref: string, signal?: AbortSignal): Promise<LocalArtifact> {
    const id = parseArtifactRef(ref);
    if (id === null) throw new ArtifactTransferError(`"${ref}" is not an artifact reference (artifact://<uuid>)`, 0);
    return this.persistently(signal, () => this.openOnce(assignmentId, id, signal));
  }

  private async openOnce(assignmentId: string, id: string, signal?: AbortSignal): Promise<LocalArtifact> {
    const meta = await this.meta(assignmentId, id, signal);
    if (!SHA256_HEX.test(meta.sha256)) throw new ArtifactTransferError(`artifact ${id}: the API answered an invalid sha256`, 0);
    const path = join(this.options.cacheDir, meta.sha256);
    await this.intoCache(assignmentId, meta, path, signal);
    return { id, path, sha256: meta.sha256, sizeBytes: meta.size_bytes, contentType: meta.content_type };
  }

  /**
   * Makes sure the bytes are in the cache, sharing a download in progress. Another assignment's download failing
   * is not this one's failure (that job may have been cancelled, its assignment no longer live): once it has
   * ended, this assignment looks again and downloads under its own name if it must.
   */
  private async intoCache(assignmentId: string, meta: ArtifactMeta, path: string, signal?: AbortSignal): Promise<void> {
    const wait = (work: Promise<void>): Promise<void> => (signal ? abortable(work, signal) : work);
    while (!(await this.cached(path, meta.size_bytes))) {
      const running = this.downloads.get(meta.sha256);
      if (running && running.assignmentId !== assignmentId) {
        await wait(running.done.catch(() => undefined));
        continue;
      }
      if (running) return wait(running.done);
      // Not tied to one caller's signal: another job may be waiting for the same bytes.
      const done = this.download(assignmentId, meta, path).finally(() => this.downloads.delete(meta.sha256));
      this.downloads.set(meta.sha256, { assignmentId, done });
      return wait(done);
    }
  }

  /** Uploads `body` as an artifact of the assignment's job (the API links it as the job's result); returns its id. */
  async upload(assignmentId: string, body: Buffer, contentType: string, name: string, signal?: AbortSignal): Promise<string> {
    const sha256 = createHash('sha256').update(body).digest('hex');
    const query = new URLSearchParams({ name, sha256 });
    return this.persistently(signal, async () => {
      const response = await this.request(`/v1/artifacts?${query.toString()}`, assignmentId, signal, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body,
      });
      const text = await response.text();
      if (response.status !== 201) throw refused(`uploading ${name}`, response.status, text);
      artifactBytes.inc({ direction: 'out' }, body.length);
      return (JSON.parse(text) as ArtifactMeta).id;
    });
  }

  /**
   * Runs `transfer` again while it fails in a way that may pass later: the API unreachable or restarting, a
   * 5xx (507: the store is full) or 429, a transfer cut short. With an attempt's signal it keeps asking until
   * the signal aborts: the attempt keeps its lease and its work rather than failing the job for a passing fault
   * (its lease and timeout bound the wait; a zombie's calls are refused for good, 409 assignment_not_live). Without,
   * three tries. A refusal as not live for a worker token that the node replaced meanwhile, or is replacing (it
   * registered again: its new incarnation runs what the old one was given), is asked again with the new token.
   */
  private async persistently<T>(signal: AbortSignal | undefined, transfer: () => Promise<T>): Promise<T> {
    const retryMs = this.options.retryMs ?? 500;
    for (let attempt = 1; ; attempt += 1) {
      const token = this.options.token();
      try {
        return await transfer();
      } catch (error) {
        if (error instanceof AssignmentNotLiveError) {
          await this.options.tokenSettled?.();
          // Refused for a token the node has replaced since: the new one may pass, at once.
          if (this.options.token() !== token && !signal?.aborted) continue;
          throw error;
        }
        const status = error instanceof ArtifactTransferError ? error.status : -1;
        const transient = status === 0 || status === 429 || status >= 500;
        if (!transient || signal?.aborted || (!signal && attempt >= UNBOUND_ATTEMPTS)) throw error;
        await new Promise((resolve) => setTimeout(resolve, retryMs * Math.min(attempt, 10)));
      }
    }
  }

  private async meta(assignmentId: string, id: string, signal?: AbortSignal): Promise<ArtifactMeta> {
    const response = await this.request(`/v1/artifacts/${id}/meta`, assignmentId, signal);
    const text = await response.text();
    if (response.status !== 200) throw refused(`artifact ${id}`, response.status, text);
    return JSON.parse(text) as ArtifactMeta;
  }

  private async cached(path: string, sizeBytes: number): Promise<boolean> {
    try {
      return (await stat(path)).size === sizeBytes;
    } catch {
      return false;
    }
  }

  /** Streams the bytes to a temp file, hashing as they pass, and renames it into place only if the sha256 matches. */
  private async download(assignmentId: string, meta: ArtifactMeta, path: string): Promise<void> {
    const tmpDir = join(this.options.cacheDir, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `${meta.sha256}.${randomUUID()}`);
    try {
      const response = await this.request(`/v1/artifacts/${meta.id}`, assignmentId, undefined, {}, false);
      if (response.status !== 200 || !response.body) {
        throw refused(`artifact ${meta.id}`, response.status, await response.text());
      }
      const counter = new DigestingCounter();
      await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), counter, createWriteStream(tmp, { mode: 0o600 }));
      artifactBytes.inc({ direction: 'in' }, counter.sizeBytes);
      const digest = counter.digest();
      const size = counter.sizeBytes;
      if (digest !== meta.sha256 || size !== meta.size_bytes) {
        throw new ArtifactTransferError(`artifact ${meta.id}: received ${size} bytes with sha256 ${digest}, expected ${meta.size_bytes} bytes with ${meta.sha256}`, 0);
      }
      await chmod(tmp, 0o444);
      // Atomic on one file system: a reader sees the whole verified file or none.
      await rename(tmp, path);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  private async request(path: string, assignmentId: string, signal?: AbortSignal, init: RequestInit = {}, timeout = true): Promise<Response> {
    const signals = [signal, timeout ? AbortSignal.timeout(REQUEST_TIMEOUT_MS) : undefined].filter(
      (item): item is AbortSignal => item !== undefined,
    );
    const base = this.options.api.preferred;
    try {
      const response = await fetch(`${base}${path}`, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${this.options.token()}`, [ASSIGNMENT_HEADER]: assignmentId },
        signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
      });
      if (unavailable(response.status)) this.options.api.failed(base);
      else this.options.api.answered(base);
      return response;
    } catch (error) {
      if (signal?.aborted) throw error;
      this.options.api.failed(base);
      throw new ArtifactTransferError(`${init.method ?? 'GET'} ${path}: ${error instanceof Error ? error.message : String(error)}`, 0);
    }
  }
}

/** Waits for `work` but gives up when `signal` aborts (the work itself goes on for whoever else waits). */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}
