import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { EntityManager } from 'typeorm';
import type { ArtifactsRepository } from '@mlis/db';
import { FsArtifactStore } from './fs-artifact.store';
import { commitUpload, dropUpload, settleUpload, stageUpload, UploadAbandonedError } from './recorded-upload';

/** The repository calls an upload makes, over an in-memory table of pending records and a count of rows per sha256. */
function ledger(rowsBySha256: Record<string, number> = {}) {
  const pending = new Map<string, string>();
  let next = 0;
  const repository = {
    transaction: <T>(work: (manager: EntityManager) => Promise<T>) => work({} as EntityManager),
    lockContent: async () => undefined,
    recordPendingUpload: async (sha256: string) => {
      const id = `pending-${(next += 1)}`;
      pending.set(id, sha256);
      return { id, sha256 };
    },
    clearPendingUpload: async (id: string) => pending.delete(id),
    countContentUsers: async (_manager: EntityManager, sha256: string) =>
      (rowsBySha256[sha256] ?? 0) + [...pending.values()].filter((recorded) => recorded === sha256).length,
  } as unknown as ArtifactsRepository;
  return { repository, pending };
}

describe('recorded uploads', () => {
  const root = mkdtempSync(join(tmpdir(), 'mlis-recorded-'));
  const store = new FsArtifactStore(root);
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const staging = () => readdirSync(join(root, 'staging'));

  it("records the upload once staged; the commit makes the bytes visible, the row's transaction clears the record", async () => {
    const { repository, pending } = ledger();
    const upload = await stageUpload(repository, store, Readable.from([randomBytes(64)]));
    expect([...pending.values()]).toEqual([upload.staged.sha256]);
    await commitUpload(upload);
    expect(await store.exists(upload.staged.sha256)).toBe(true);
    expect(pending.size).toBe(1);
    await settleUpload(repository, {} as EntityManager, upload);
    expect(pending.size).toBe(0);
  });

  it('refuses the row of an upload whose record retention took: its bytes may be gone', async () => {
    const { repository, pending } = ledger();
    const upload = await stageUpload(repository, store, Readable.from([randomBytes(64)]));
    await commitUpload(upload);
    pending.clear();
    await expect(settleUpload(repository, {} as EntityManager, upload)).rejects.toThrow(UploadAbandonedError);
  });

  it('dropped after its commit: the bytes go, unless another upload in flight or a row uses them', async () => {
    const bytes = randomBytes(64);
    const { repository, pending } = ledger();
    const first = await stageUpload(repository, store, Readable.from([bytes]));
    const second = await stageUpload(repository, store, Readable.from([bytes]));
    await commitUpload(first);
    await commitUpload(second);
    await dropUpload(repository, store, first);
    expect(await store.exists(first.staged.sha256)).toBe(true);
    await dropUpload(repository, store, second);
    expect(await store.exists(second.staged.sha256)).toBe(false);
    expect(pending.size).toBe(0);
  });

  it('dropped before its commit: the staged bytes and the record go, an object of the same bytes stays', async () => {
    const bytes = randomBytes(64);
    const existing = await store.put(Readable.from([bytes]));
    const { repository, pending } = ledger({ [existing.sha256]: 1 });
    const upload = await stageUpload(repository, store, Readable.from([bytes]));
    await dropUpload(repository, store, upload);
    expect(pending.size).toBe(0);
    expect(staging()).toEqual([]);
    expect(await store.exists(existing.sha256)).toBe(true);
  });

  it('dropped after a commit that failed part-way: the bytes under their content address go too', async () => {
    const { repository, pending } = ledger();
    const upload = await stageUpload(repository, store, Readable.from([randomBytes(64)]));
    const commit = upload.staged.commit;
    // As on S3 when the copy went through and the staging key's delete did not.
    upload.staged.commit = async () => {
      await commit();
      throw new Error('staging key not deleted');
    };
    await expect(commitUpload(upload)).rejects.toThrow('staging key not deleted');
    expect(await store.exists(upload.staged.sha256)).toBe(true);
    await dropUpload(repository, store, upload);
    expect(await store.exists(upload.staged.sha256)).toBe(false);
    expect(pending.size).toBe(0);
  });
});
