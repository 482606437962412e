import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ArtifactReader, LocalArtifact } from '@mlis/runners';

/** An ArtifactReader over local files, for runner tests: what the node's API-backed reader hands a runner. */
export function fakeArtifacts(files: Record<string, { path: string; contentType?: string }> = {}): ArtifactReader & { opened: string[] } {
  const opened: string[] = [];
  return {
    opened,
    async open(ref: string): Promise<LocalArtifact> {
      opened.push(ref);
      const file = files[ref];
      if (!file) throw new Error(`no artifact ${ref} in this test`);
      const bytes = readFileSync(file.path);
      return {
        id: ref.replace('artifact://', ''),
        path: file.path,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        sizeBytes: bytes.length,
        contentType: file.contentType ?? 'application/octet-stream',
      };
    },
  };
}
