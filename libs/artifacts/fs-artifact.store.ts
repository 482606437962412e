import { randomUUID } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { access, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  checkDigest,
  contentKey,
  DigestingCounter,
  isOutOfSpace,
  ObjectMissingError,
  StoreFullError,
  type ArtifactStore,
  type ByteRange,
  type PutOptions,
  type StagedObject,
  type StoredObject,
} from './artifact-store';

const STAGING = 'staging';
const READ_CHUNK_BYTES = 1024 * 1024;

/** fsync of a file (its bytes), or of a directory (the names created or renamed in it). */
async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/** Objects as files under `root`: `sha256/ab/<sha256>`, uploads first written to `staging/` and renamed in whole. */
export class FsArtifactStore implements ArtifactStore {
  readonly backend = 'fs';

  constructor(private readonly root: string) {}

  async stage(body: Readable, options?: PutOptions): Promise<StagedObject> {
    const staging = join(this.root, STAGING);
    await mkdir(staging, { recursive: true });
    const path = join(staging, `${randomUUID()}.part`);
    const counter = new DigestingCounter(options?.maxBytes);
    let stored: StoredObject;
    try {
      await pipeline(body, counter, createWriteStream(path, { flags: 'wx' }));
      stored = checkDigest(counter, options);
      // On disk before the rename makes it visible: a power cut must not leave a named, empty object.
      await fsyncPath(path);
    } catch (error) {
      // Nothing half-written stays behind, whatever stopped the upload.
      await rm(path, { force: true });
      throw isOutOfSpace(error) ? new StoreFullError(error) : error;
    }
    return {
      ...stored,
      commit: async () => {
        const target = this.pathOf(stored.sha256);
        let created: string | undefined;
        try {
          created = await mkdir(dirname(target), { recursive: true });
        } catch (error) {
          // A new fan-out directory needs room too; the caller discards the staged file.
          throw isOutOfSpace(error) ? new StoreFullError(error) : error;
        }
        // Atomic; replacing an existing object swaps identical bytes, and open readers keep theirs.
        await rename(path, target);
        // The name is durable only once its directory is (and a new directory's own name in its parent): the row
        // that commits after this must not outlive a power cut that its bytes' name did not.
        for (let dir = dirname(target); ; dir = dirname(dir)) {
          await fsyncPath(dir);
          if (created === undefined || dir === dirname(created)) break;
        }
      },
      discard: () => rm(path, { force: true }),
    };
  }

  async put(body: Readable, options?: PutOptions): Promise<StoredObject> {
    const { commit, ...stored } = await this.stage(body, options);
    await commit();
    return { sha256: stored.sha256, sizeBytes: stored.sizeBytes };
  }

  async get(sha256: string, range?: ByteRange): Promise<Readable> {
    // Opened before returning so that a missing object is an error here, before any response header went out.
    let handle;
    try {
      handle = await open(this.pathOf(sha256), 'r');
    } catch (error) {
      if (isMissing(error)) throw new ObjectMissingError(sha256);
      throw error;
    }
    // 1 MiB reads instead of the default 64 KiB: fewer, larger writes to the socket (a download's throughput
    // is bound by per-chunk overhead), and still a bounded amount in flight.
    return handle.createReadStream({ highWaterMark: READ_CHUNK_BYTES, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  async check(): Promise<void> {
    const staging = join(this.root, STAGING);
    await mkdir(staging, { recursive: true });
    await access(staging, constants.W_OK);
  }

  async exists(sha256: string): Promise<boolean> {
    try {
      await stat(this.pathOf(sha256));
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  async delete(sha256: string): Promise<void> {
    await rm(this.pathOf(sha256), { force: true });
  }

  async sweepStaging(olderThanMs: number): Promise<number> {
    const staging = join(this.root, STAGING);
    let names: string[];
    try {
      names = await readdir(staging);
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    }
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for (const name of names) {
      const path = join(staging, name);
      try {
        if ((await stat(path)).mtimeMs < cutoff) {
          await rm(path, { force: true });
          removed += 1;
        }
      } catch (error) {
        // Committed or discarded meanwhile.
        if (!isMissing(error)) throw error;
      }
    }
    return removed;
  }

  private pathOf(sha256: string): string {
    return join(this.root, contentKey(sha256));
  }
}
