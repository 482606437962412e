import type { ArtifactsConfig } from '@mlis/config';
import type { ArtifactStore } from './artifact-store';
import { FsArtifactStore } from './fs-artifact.store';
import { createS3Client, S3ArtifactStore } from './s3-artifact.store';

/** The configured backend. An S3 bucket is checked, and created when missing, by the store's first call, not here. */
export function createArtifactStore(config: ArtifactsConfig): ArtifactStore {
  if (config.backend === 'fs') return new FsArtifactStore(config.dir);
  const { endpoint, region, bucket, forcePathStyle } = config.s3;
  return new S3ArtifactStore(createS3Client({ region, forcePathStyle, ...(endpoint ? { endpoint } : {}) }), bucket);
}
