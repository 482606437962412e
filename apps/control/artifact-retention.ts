import { deleteArtifact, type ArtifactStore } from '@mlis/artifacts';
import type { ArtifactsRepository } from '@mlis/db';

const BATCH = 100;
/** A staged upload this old belongs to a process that died mid-upload (a live one commits or discards it). */
const STAGING_MAX_AGE_MS = 24 * 3600 * 1000;

export interface RetentionSweep {
  /** Ids of the artifacts deleted. */
  deleted: string[];
  /** Abandoned staged uploads removed. */
  staged: number;
}

/**
 * Deletes artifacts whose expiry has passed and that no QUEUED or RUNNING job references: row, links and,
 * when no other row shares the sha256, the bytes. Each deletion re-checks under a row lock, so a job that
 * links the artifact meanwhile keeps it. Every control replica may run one: a row another holds is skipped.
 */
export class ArtifactRetention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RetentionSweep> | undefined;

  constructor(
    private readonly artifacts: ArtifactsRepository,
    private readonly store: ArtifactStore,
    private readonly intervalMs: number,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a sweep in flight. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass; a sweep already in flight is joined rather than doubled. */
  sweep(now: Date = new Date()): Promise<RetentionSweep> {
    this.running ??= this.pass(now).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(now: Date): Promise<RetentionSweep> {
    const deleted: string[] = [];
    let staged = 0;
    try {
      for (;;) {
        const candidates = await this.artifacts.findExpiredUnreferenced(now, BATCH);
        let progress = 0;
        for (const candidate of candidates) {
          const gone = await this.artifacts.transaction(async (manager) => {
            const locked = await this.artifacts.lockExpiredUnreferenced(manager, candidate.id, now);
            if (!locked) return false;
            await deleteArtifact(this.artifacts, this.store, manager, locked);
            return true;
          });
          if (gone) {
            deleted.push(candidate.id);
            progress += 1;
          }
        }
        // A short page is the last; a page of rows all skipped (locked or linked meanwhile) would come back the same.
        if (candidates.length < BATCH || progress === 0) break;
      }
      staged = await this.store.sweepStaging(STAGING_MAX_AGE_MS);
    } catch (error) {
      this.log(`artifact retention failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (deleted.length > 0 || staged > 0) this.log(`artifact retention deleted ${deleted.length} expired artifact(s), ${staged} abandoned upload(s)`);
    return { deleted, staged };
  }
}
