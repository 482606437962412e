import type { ArtifactsConfig } from '@mlis/config';
import type { ArtifactStore } from './artifact-store';
import { FsArtifactStore } from './fs-artifact.store';
import { createS3Client, S3ArtifactStore } from './s3-artifact.store';

/** The configured backend, ready to use (the S3 bucket is created when missing). */
export async function createArtifactStore(config: ArtifactsConfig): Promise<ArtifactStore> {
  if (config.backend === 'fs') return new FsArtifactStore(config.dir);
  const { endpoint, region, bucket, forcePathStyle } = config.s3;
  const store = new S3ArtifactStore(createS3Client({ region, forcePathStyle, ...(endpoint ? { endpoint } : {}) }), bucket);
  await store.ensureBucket();
  return store;
}
