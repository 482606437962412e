import { abandonUpload, deleteArtifact, type ArtifactStore } from '@mlis/artifacts';
import type { ArtifactsRepository } from '@mlis/db';
import { artifactRetentionFailures, artifactRetentionRemoved } from '@mlis/metrics';
import { PeriodicPass } from './periodic-pass';

const BATCH = 100;
/** An upload this old belongs to a process that died mid-upload: a live one commits or discards it well before. */
const ABANDONED_AFTER_MS = 24 * 3600 * 1000;

export interface RetentionSweep {
  /** Ids of the artifacts deleted. */
  deleted: string[];
  /** Abandoned staged uploads removed. */
  staged: number;
  /** Abandoned uploads' pending records cleared, their bytes deleted unless a row uses them. */
  rowless: number;
}

/**
 * Deletes artifacts whose expiry has passed and that no QUEUED or RUNNING job references: row, links and,
 * when no other row shares the sha256, the bytes. Each deletion re-checks under a row lock, so a job that
 * links the artifact meanwhile keeps it. Every control replica may run one: a row another holds is skipped.
 *
 * Then cleans up after uploads a crash cut off: staged bytes no one committed or discarded, and bytes committed
 * without their row, found through the upload's pending record (ADR 0012). Only bytes an upload of this install
 * recorded are ever deleted that way, never an object the database simply does not know.
 */
export class ArtifactRetention extends PeriodicPass<RetentionSweep> {
  /** Whether something failed in the pass in flight (passes never overlap). */
  private passFailed = false;

  constructor(
    private readonly artifacts: ArtifactsRepository,
    private readonly store: ArtifactStore,
    intervalMs: number,
    private readonly log: (line: string) => void,
  ) {
    super(intervalMs);
  }

  /**
   * Each of the three clean-ups runs whatever the others did, and one object whose removal fails (a file the process
   * may not delete, an S3 object under a legal hold) is counted, logged and skipped for the pass rather than stopping
   * everything behind it.
   */
  protected async pass(now: Date): Promise<RetentionSweep> {
    this.passFailed = false;
    const deleted = await this.step('deleting expired artifacts', [], () => this.removeExpired(now));
    const staged = await this.step('sweeping abandoned staged uploads', 0, () => this.store.sweepStaging(ABANDONED_AFTER_MS));
    const rowless = await this.step('removing uploads cut off before their row', 0, () =>
      this.removeAbandonedUploads(new Date(now.getTime() - ABANDONED_AFTER_MS)),
    );
    artifactRetentionRemoved.inc({ what: 'expired' }, deleted.length);
    artifactRetentionRemoved.inc({ what: 'staged' }, staged);
    artifactRetentionRemoved.inc({ what: 'rowless' }, rowless);
    // Once a pass, however many objects failed in it: an outage would otherwise count every expired artifact.
    if (this.passFailed) artifactRetentionFailures.inc();
    if (deleted.length > 0 || staged > 0 || rowless > 0) {
      this.log(`artifact retention deleted ${deleted.length} expired artifact(s), ${staged} abandoned upload(s), ${rowless} upload(s) cut off before their row`);
    }
    return { deleted, staged, rowless };
  }

  /** One clean-up; `none` when it fails. */
  private async step<T>(what: string, none: T, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      this.failed(what, error);
      return none;
    }
  }

  private failed(what: string, error: unknown): void {
    this.passFailed = true;
    this.log(`artifact retention: ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
  }

  /** Deletes the expired, unused artifacts; returns their ids. */
  private async removeExpired(now: Date): Promise<string[]> {
    const deleted: string[] = [];
    // Failed this pass: not asked for again until the next one.
    const skip: string[] = [];
    for (;;) {
      const candidates = await this.artifacts.findExpiredUnreferenced(now, BATCH, skip);
      let progress = 0;
      for (const candidate of candidates) {
        try {
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
        } catch (error) {
          this.failed(`deleting artifact ${candidate.id}`, error);
          skip.push(candidate.id);
          progress += 1;
        }
      }
      // A short page is the last; a page of rows all skipped (locked or linked meanwhile) would come back the same.
      if (candidates.length < BATCH || progress === 0) return deleted;
    }
  }

  /** Clears the pending records of uploads started before `before`, deleting their bytes unless a row uses them; returns how many. */
  private async removeAbandonedUploads(before: Date): Promise<number> {
    let cleared = 0;
    // Failed this pass: not asked for again until the next one.
    const skip: string[] = [];
    for (;;) {
      const uploads = await this.artifacts.findPendingUploads(before, BATCH, skip);
      for (const upload of uploads) {
        try {
          await abandonUpload(this.artifacts, this.store, upload);
          cleared += 1;
        } catch (error) {
          this.failed(`removing the bytes of upload ${upload.id}`, error);
          skip.push(upload.id);
        }
      }
      if (uploads.length < BATCH) return cleared;
    }
  }
}
