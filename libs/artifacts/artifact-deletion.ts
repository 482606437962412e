import type { EntityManager } from 'typeorm';
import type { ArtifactRecord, ArtifactsRepository } from '@mlis/db';
import type { ArtifactStore } from './artifact-store';

/**
 * Deletes an artifact's row, locked by the caller, inside the caller's transaction; when no other row uses
 * its sha256 the bytes go too, while the content lock keeps a concurrent upload of the same bytes from
 * adding a row in between. If the transaction then fails to commit, the row survives its bytes: the one
 * order that can leave a dangling row, chosen over orphaned bytes nothing would ever find.
 */
export async function deleteArtifact(
  repository: ArtifactsRepository,
  store: ArtifactStore,
  manager: EntityManager,
  artifact: Pick<ArtifactRecord, 'id' | 'sha256'>,
): Promise<void> {
  await repository.lockContent(manager, artifact.sha256);
  const remaining = await repository.delete(manager, artifact);
  if (remaining === 0) await store.delete(artifact.sha256);
}
