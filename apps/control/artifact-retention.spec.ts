import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsArtifactStore } from '@mlis/artifacts';
import type { ArtifactsRepository } from '@mlis/db';
import { artifactRetentionFailures } from '@mlis/metrics';
import { ArtifactRetention } from './artifact-retention';

// The deletions themselves run against Postgres in test/integration/artifacts.spec.ts; this is the failure path.
describe(ArtifactRetention.name, () => {
  const root = mkdtempSync(join(tmpdir(), 'mlis-retention-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const failures = async (): Promise<number> => (await artifactRetentionFailures.get()).values[0]?.value ?? 0;

  it('logs and counts each clean-up that fails, and still runs the others', async () => {
    const unreachable = {
      findExpiredUnreferenced: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')),
      findPendingUploads: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')),
    } as unknown as ArtifactsRepository;
    const lines: string[] = [];
    const store = new FsArtifactStore(root);
    const sweepStaging = jest.spyOn(store, 'sweepStaging');
    const retention = new ArtifactRetention(unreachable, store, 60_000, (line) => lines.push(line));
    const before = await failures();

    expect(await retention.sweep()).toEqual({ deleted: [], staged: 0, rowless: 0 });
    // Two clean-ups failed: one failed pass.
    expect(await failures()).toBe(before + 1);
    expect(sweepStaging).toHaveBeenCalledTimes(1);
    expect(lines).toEqual([
      'artifact retention: deleting expired artifacts failed: connect ECONNREFUSED 127.0.0.1:5432',
      'artifact retention: removing uploads cut off before their row failed: connect ECONNREFUSED 127.0.0.1:5432',
    ]);
  });

  it('skips artifacts it cannot delete for the rest of the pass, a whole page of them too, and deletes the ones behind', async () => {
    // A page (100) of artifacts the store refuses to delete, oldest first, then one it can.
    const stuck = Array.from({ length: 100 }, (_, i) => ({ id: `stuck-${i}`, sha256: `stuck-${i}` }));
    const expired = [...stuck, { id: 'next', sha256: 'next' }];
    const asked: number[] = [];
    const artifacts = {
      findExpiredUnreferenced: async (_now: Date, limit: number, skip: string[]) => {
        asked.push(skip.length);
        return expired.filter(({ id }) => !skip.includes(id)).slice(0, limit);
      },
      transaction: async (work: (manager: unknown) => Promise<boolean>) => work({}),
      lockExpiredUnreferenced: async (_manager: unknown, id: string) => expired.find((artifact) => artifact.id === id) ?? null,
      lockContent: async () => undefined,
      delete: async (_manager: unknown, artifact: { id: string }) => {
        if (artifact.id.startsWith('stuck')) throw new Error('EACCES: permission denied');
        expired.splice(expired.findIndex(({ id }) => id === artifact.id), 1);
        return 0;
      },
      findPendingUploads: async () => [],
    } as unknown as ArtifactsRepository;
    const store = new FsArtifactStore(root);
    jest.spyOn(store, 'delete').mockResolvedValue(undefined);
    const lines: string[] = [];
    const before = await failures();

    const sweep = await new ArtifactRetention(artifacts, store, 60_000, (line) => lines.push(line)).sweep();
    expect(sweep.deleted).toEqual(['next']);
    // A hundred objects failed: one failed pass.
    expect(await failures()).toBe(before + 1);
    expect(lines[0]).toBe('artifact retention: deleting artifact stuck-0 failed: EACCES: permission denied');
    // The second page is asked for without the hundred that failed.
    expect(asked).toEqual([0, 100]);
  });
});
