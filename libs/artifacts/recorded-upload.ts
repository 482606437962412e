import type { Readable } from 'node:stream';
import type { EntityManager } from 'typeorm';
import type { ArtifactsRepository, PendingUpload } from '@mlis/db';
import type { ArtifactStore, PutOptions, StagedObject } from './artifact-store';

/**
 * An upload on its way to becoming an artifact: staged, and recorded as pending before its bytes can be committed
 * (ADR 0012). `commitUpload` makes the bytes visible inside the transaction that inserts the row, and clears the
 * record there; when that transaction fails, `dropUpload` removes what it left. Should a crash stop both, the record
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

/** In the transaction that inserts the upload's row: takes the content lock, makes the bytes visible, clears the record. */
export async function commitUpload(repository: ArtifactsRepository, manager: EntityManager, upload: RecordedUpload): Promise<void> {
  await repository.lockContent(manager, upload.staged.sha256);
  upload.commitBegun = true;
  await upload.staged.commit();
  await repository.clearPendingUpload(upload.pending.id, manager);
}

/** After the row's transaction failed: the staged bytes discarded, committed ones abandoned, the record cleared. */
export async function dropUpload(repository: ArtifactsRepository, store: ArtifactStore, upload: RecordedUpload): Promise<void> {
  // Nothing left to discard once a commit went through: the staging name is gone.
  await upload.staged.discard();
  if (upload.commitBegun) await abandonUpload(repository, store, upload.pending);
  else await repository.clearPendingUpload(upload.pending.id);
}

/**
 * The clean-up of an upload whose bytes were committed but whose row never was: deletes the bytes if no row uses
 * them, and clears the pending record, in one transaction. Under the content lock, a row committed meanwhile keeps
 * the bytes.
 */
export async function abandonUpload(repository: ArtifactsRepository, store: ArtifactStore, upload: PendingUpload): Promise<void> {
  await repository.transaction(async (manager) => {
    await repository.lockContent(manager, upload.sha256);
    await repository.clearPendingUpload(upload.id, manager);
    if ((await repository.countBySha256(manager, upload.sha256)) === 0) await store.delete(upload.sha256);
  });
}
