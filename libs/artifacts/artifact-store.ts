import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';

/** A byte range of an object, both ends inclusive (as in HTTP `Range: bytes=start-end`). */
export interface ByteRange {
  start: number;
  end: number;
}

/** What an upload turned out to be: its content address and length. */
export interface StoredObject {
  sha256: string;
  sizeBytes: number;
}

export interface PutOptions {
  /** Lowercase hex sha256 the caller expects; a mismatch throws ChecksumMismatchError and keeps nothing. */
  expectedSha256?: string;
  /** Stop reading and keep nothing once more than this many bytes arrived (ObjectTooLargeError). */
  maxBytes?: number;
}

/**
 * An upload that arrived whole and matched its checksum but is not visible yet: `commit` moves it under its
 * content address (idempotent: the same bytes may already be there), `discard` drops it (after a commit, it does
 * nothing). Until one of them runs it lives under a staging name that readers never see, so a crash mid-upload
 * leaves no half object.
 */
export interface StagedObject extends StoredObject {
  commit(): Promise<void>;
  discard(): Promise<void>;
}

/** Bytes addressed by their sha256. Metadata (tenant, name, expiry) lives in Postgres, not here. */
export interface ArtifactStore {
  readonly backend: 'fs' | 's3';
  /** Reads the whole stream into staging, hashing and counting as it goes. */
  stage(body: Readable, options?: PutOptions): Promise<StagedObject>;
  /** stage + commit. */
  put(body: Readable, options?: PutOptions): Promise<StoredObject>;
  /** The object's bytes, or the range of them; ObjectMissingError when there is none. */
  get(sha256: string, range?: ByteRange): Promise<Readable>;
  exists(sha256: string): Promise<boolean>;
  /** Removes the object; removing a missing one is not an error. */
  delete(sha256: string): Promise<void>;
  /** Removes staged uploads older than this that no one committed or discarded (a crashed process's); returns how many. */
  sweepStaging(olderThanMs: number): Promise<number>;
  /** Resolves when the store would take an upload now (fs: its folder is writable; s3: the bucket answers these credentials). */
  check(): Promise<void>;
}

export class ChecksumMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`the bytes' sha256 is ${actual}, not the expected ${expected}`);
    this.name = 'ChecksumMismatchError';
  }
}

export class ObjectTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the upload exceeds the limit of ${maxBytes} bytes`);
    this.name = 'ObjectTooLargeError';
  }
}

export class ObjectMissingError extends Error {
  constructor(sha256: string) {
    super(`no stored object for sha256 ${sha256}`);
    this.name = 'ObjectMissingError';
  }
}

/** The store has no room left (a full disk or quota): nothing of the upload was kept; the same upload may pass later. */
export class StoreFullError extends Error {
  constructor(cause: unknown) {
    super('the artifact store has no space left', { cause });
    this.name = 'StoreFullError';
  }
}

/** A file system's "no space" errors: the disk (ENOSPC) or the user's quota (EDQUOT) is full. */
export function isOutOfSpace(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The storage key of an object: a fan-out directory keeps any one directory (or listing prefix) small. */
export function contentKey(sha256: string): string {
  // Keys are paths on the fs backend: never build one from anything but a real digest.
  if (!SHA256_HEX.test(sha256)) throw new Error(`not a sha256 hex digest: ${sha256.slice(0, 80)}`);
  return `sha256/${sha256.slice(0, 2)}/${sha256}`;
}

/** Passes bytes through while hashing and counting them; fails the stream once more than `maxBytes` went by. */
export class DigestingCounter extends Transform {
  private readonly hash: Hash = createHash('sha256');
  sizeBytes = 0;

  constructor(private readonly maxBytes?: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.sizeBytes += chunk.length;
    if (this.maxBytes !== undefined && this.sizeBytes > this.maxBytes) {
      callback(new ObjectTooLargeError(this.maxBytes));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  /** The hex digest; call once, after the stream ended. */
  digest(): string {
    return this.hash.digest('hex');
  }
}

/** The checks every backend runs once the whole stream went through `counter`. */
export function checkDigest(counter: DigestingCounter, options: PutOptions | undefined): StoredObject {
  const sha256 = counter.digest();
  if (options?.expectedSha256 !== undefined && options.expectedSha256 !== sha256) {
    throw new ChecksumMismatchError(options.expectedSha256, sha256);
  }
  return { sha256, sizeBytes: counter.sizeBytes };
}
