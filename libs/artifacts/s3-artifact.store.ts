import { randomUUID } from 'node:crypto';
import { finished, Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  checkDigest,
  contentKey,
  DigestingCounter,
  ObjectMissingError,
  type ArtifactStore,
  type ByteRange,
  type PutOptions,
  type StagedObject,
  type StoredObject,
} from './artifact-store';

const STAGING_PREFIX = 'staging/';
// Multipart parts in flight per upload: memory held is about partSize × queueSize.
const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 2;

/**
 * The SDK waits for ever by default: a server that stops answering would hang a request, and whatever awaits it
 * (a retention pass, a shutdown). A socket silent for `idleMs` is given up: long enough for a slow reader of a download.
 */
export interface S3Timeouts {
  connectMs: number;
  idleMs: number;
}

const S3_TIMEOUTS: S3Timeouts = { connectMs: 10_000, idleMs: 120_000 };

/**
 * An S3 client for any S3-compatible server. The SDK's default flexible checksums (CRC32 on every request and
 * response) are only used where S3 requires them: servers other than AWS disagree on them (a copied multipart
 * object's checksum, for one), and the store checks every upload's sha256 itself.
 */
export function createS3Client(
  config: Pick<S3ClientConfig, 'endpoint' | 'region' | 'forcePathStyle' | 'credentials'>,
  timeouts: S3Timeouts = S3_TIMEOUTS,
): S3Client {
  return new S3Client({
    ...config,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: timeouts.connectMs, socketTimeout: timeouts.idleMs },
  });
}

/**
 * Whether `error` (or what it wraps) is an S3 server's error answer that the store did not turn into one of its own
 * (a missing object is `ObjectMissingError`): a refused credential or policy (403), a missing bucket it may not create,
 * the server's own failure (5xx). The request was valid; the store could not serve it.
 */
export function isStoreRefusal(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 4; depth += 1) {
    if (current instanceof S3ServiceException) return true;
    current = current.cause;
  }
  return false;
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.name === 'NotFound' || error.name === 'NoSuchKey' || error.name === 'NoSuchBucket' || error.$metadata.httpStatusCode === 404)
  );
}

/**
 * Objects in one bucket of any S3-compatible service: `sha256/ab/<sha256>`. An upload streams as a multipart
 * upload to `staging/<uuid>` while it is hashed; commit copies it server-side under its content address.
 * A crashed upload leaves only a staging key (or an incomplete multipart upload), never a content key.
 */
export class S3ArtifactStore implements ArtifactStore {
  readonly backend = 's3';

  private bucketChecked: Promise<void> | undefined;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  /**
   * Every call first waits for the bucket's check, made once: a process starts while the S3 server is down (control
   * needs it only for retention, the API only for artifacts), and a check that failed is made again by the next call.
   */
  private bucketReady(): Promise<void> {
    this.bucketChecked ??= this.ensureBucket().catch((error: unknown) => {
      this.bucketChecked = undefined;
      throw error;
    });
    return this.bucketChecked;
  }

  /** Creates the bucket when it does not exist (a fresh MinIO or test server). */
  private async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    }
  }

  async stage(body: Readable, options?: PutOptions): Promise<StagedObject> {
    await this.bucketReady();
    const key = `${STAGING_PREFIX}${randomUUID()}`;
    const counter = new DigestingCounter(options?.maxBytes);
    // A source that fails or closes early (a client gone mid-upload) fails the upload, which then aborts.
    finished(body, (error) => {
      if (error) counter.destroy(error);
    });
    body.pipe(counter);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: counter },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
    let stored: StoredObject;
    try {
      await upload.done();
      stored = checkDigest(counter, options);
    } catch (error) {
      body.unpipe(counter);
      counter.destroy();
      await this.deleteKey(key);
      // The counter's own failure (too large, source gone) is the cause; the SDK may wrap or replace it.
      throw counterFailure(counter) ?? error;
    }
    return {
      ...stored,
      commit: async () => {
        await this.client.send(
          new CopyObjectCommand({ Bucket: this.bucket, CopySource: `${this.bucket}/${key}`, Key: contentKey(stored.sha256) }),
        );
        await this.deleteKey(key);
      },
      discard: () => this.deleteKey(key),
    };
  }

  async put(body: Readable, options?: PutOptions): Promise<StoredObject> {
    const { commit, ...stored } = await this.stage(body, options);
    await commit();
    return { sha256: stored.sha256, sizeBytes: stored.sizeBytes };
  }

  async get(sha256: string, range?: ByteRange): Promise<Readable> {
    await this.bucketReady();
    try {
      const output = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: contentKey(sha256),
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      );
      if (!(output.Body instanceof Readable)) throw new Error('the S3 client returned a body that is not a Node stream');
      return output.Body;
    } catch (error) {
      if (isNotFound(error)) throw new ObjectMissingError(sha256);
      throw error;
    }
  }

  /** Asks every time, unlike the first-use bucket check: credentials revoked since then show. */
  async check(): Promise<void> {
    await this.ensureBucket();
  }

  async exists(sha256: string): Promise<boolean> {
    await this.bucketReady();
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: contentKey(sha256) }));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async delete(sha256: string): Promise<void> {
    await this.bucketReady();
    await this.deleteKey(contentKey(sha256));
  }

  async sweepStaging(olderThanMs: number): Promise<number> {
    await this.bucketReady();
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: STAGING_PREFIX, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key && object.LastModified && object.LastModified.getTime() < cutoff) {
          await this.deleteKey(object.Key);
          removed += 1;
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const uploads = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: STAGING_PREFIX }));
    for (const upload of uploads.Uploads ?? []) {
      if (upload.Key && upload.UploadId && upload.Initiated && upload.Initiated.getTime() < cutoff) {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: upload.Key, UploadId: upload.UploadId }));
        removed += 1;
      }
    }
    return removed;
  }

  private async deleteKey(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}

function counterFailure(counter: DigestingCounter): Error | undefined {
  const error = counter.errored;
  return error instanceof Error ? error : undefined;
}
