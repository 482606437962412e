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

  it('logs and counts a pass that stops on an error, and answers what it removed before it', async () => {
    const unreachable = {
      findExpiredUnreferenced: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')),
    } as unknown as ArtifactsRepository;
    const lines: string[] = [];
    const retention = new ArtifactRetention(unreachable, new FsArtifactStore(root), 60_000, (line) => lines.push(line));
    const before = (await artifactRetentionFailures.get()).values[0]?.value ?? 0;

    expect(await retention.sweep()).toEqual({ deleted: [], staged: 0, rowless: 0 });
    expect((await artifactRetentionFailures.get()).values[0]?.value).toBe(before + 1);
    expect(lines).toEqual(['artifact retention failed: connect ECONNREFUSED 127.0.0.1:5432']);
  });
});
