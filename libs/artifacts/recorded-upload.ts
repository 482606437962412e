import type { Readable } from 'node:stream';
import type { EntityManager } from 'typeorm';
import type { ArtifactsRepository, PendingUpload } from '@mlis/db';
import type { ArtifactStore, PutOptions, StagedObject } from './artifact-store';

/**
 * An upload on its way to becoming an artifact (ADR 0012, ADR 0061): staged, recorded as pending, its bytes committed
 * under their content address before the transaction that inserts its row, which clears the record (`settleUpload`).
 * The pending record is what keeps those bytes meanwhile: a delete of the last row sharing them counts it as a user.
 * When the row's transaction fails, `dropUpload` removes what the upload left; should a crash stop both, the record
 * leads retention to the bytes.
 */
export interface RecordedUpload {
  readonly staged: StagedObject;
  readonly pending: PendingUpload;
  /**
   * Set as the commit begins: from then on the bytes may be under their content address, even if the commit failed
   * part-way (S3: copied, the staging key not yet deleted), and only a row or `abandonUpload` settles them.
   */
  commitBegun: boolean;
}

/** Thrown by `settleUpload` when retention took the upload's record (and perhaps its bytes) before its row came. */
export class UploadAbandonedError extends Error {
  constructor(readonly sha256: string) {
    super(`the upload of sha256 ${sha256} took longer than retention waits for an upload, which cleaned it up; nothing was kept`);
  }
}

/** Stages the body and records the upload as pending; if the record fails, the staged bytes are discarded. */
export async function stageUpload(repository: ArtifactsRepository, store: ArtifactStore, body: Readable, options?: PutOptions): Promise<RecordedUpload> {
  const staged = await store.stage(body, options);
  try {
    return { staged, pending: await repository.recordPendingUpload(staged.sha256), commitBegun: false };
  } catch (error) {
    await staged.discard();
    throw error;
  }
}

/**
 * Makes the bytes visible under their content address. Outside any transaction: on S3 this is a copy of the whole
 * object, and a pooled connection held across it would stall every other request of the process (ADR 0061).
 */
export async function commitUpload(upload: RecordedUpload): Promise<void> {
  upload.commitBegun = true;
  await upload.staged.commit();
}

/**
 * In the transaction that inserts the upload's row, before the insert: clears the pending record, the row now keeping
 * the bytes. A record already gone was abandoned by retention, which may have deleted the bytes: the row must not be.
 */
export async function settleUpload(repository: ArtifactsRepository, manager: EntityManager, upload: RecordedUpload): Promise<void> {
  if (!(await repository.clearPendingUpload(upload.pending.id, manager))) throw new UploadAbandonedError(upload.staged.sha256);
}

/** After the row's transaction failed: the staged bytes discarded, committed ones abandoned, the record cleared. */
export async function dropUpload(repository: ArtifactsRepository, store: ArtifactStore, upload: RecordedUpload): Promise<void> {
  // Nothing left to discard once a commit went through: the staging name is gone.
  await upload.staged.discard();
  if (upload.commitBegun) await abandonUpload(repository, store, upload.pending);
  else await repository.clearPendingUpload(upload.pending.id);
}

/**
 * The clean-up of an upload whose bytes were committed but whose row never was: clears the pending record and deletes
 * the bytes if no row and no other upload in flight uses them, in one transaction under the content lock.
 */
export async function abandonUpload(repository: ArtifactsRepository, store: ArtifactStore, upload: PendingUpload): Promise<void> {
  await repository.transaction(async (manager) => {
    await repository.lockContent(manager, upload.sha256);
    await repository.clearPendingUpload(upload.id, manager);
    if ((await repository.countContentUsers(manager, upload.sha256)) === 0) await store.delete(upload.sha256);
  });
}
