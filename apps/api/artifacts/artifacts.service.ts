import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import {
  ChecksumMismatchError,
  commitUpload,
  deleteArtifact,
  dropUpload,
  ObjectMissingError,
  ObjectTooLargeError,
  settleUpload,
  stageUpload,
  type ArtifactStore,
  type ByteRange,
  type RecordedUpload,
} from '@mlis/artifacts';
import type { AppConfig } from '@mlis/config';
import { ApiErrorCode } from '@mlis/contracts';
import { ArtifactsRepository, TenantsRepository, type ArtifactRecord, type LiveAssignment } from '@mlis/db';
import { Access } from '../common/access';
import type { RequestActor } from '../common/actor';
import { DomainError, unknownTenant } from '../common/domain-error';
import { IDEMPOTENCY_KEY_HEADER } from '../common/idempotency-key';
import { validationFailed } from '../common/validation';
import { InjectAppConfig } from '../core/app-config';
import { decodeJobCursor, encodeJobCursor } from '../jobs/jobs-cursor';
import { DEFAULT_ARTIFACT_PAGE_SIZE, type ArtifactListQueryDto, type ArtifactListResponseDto, type ArtifactResponseDto } from './artifacts.dto';
import { toArtifactResponse } from './artifacts.mapper';

/** The API's artifact store (libs/artifacts), built from config by ArtifactsModule. */
export const ARTIFACT_STORE = Symbol('ArtifactStore');

/** A node acting for one of its assignments: the worker token's binding and the X-MLIS-Assignment header. */
export interface WorkerAssignmentClaim {
  nodeId: string;
  incarnation: number;
  assignmentId: string;
}

/** Who calls: a user (tenant and scopes in the actor), or a node for one assignment. */
export interface ArtifactCaller {
  actor: RequestActor;
  worker?: WorkerAssignmentClaim;
}

export interface ArtifactUpload {
  body: Readable;
  contentType: string;
  name: string | null;
  expectedSha256?: string;
  expiresInSeconds?: number;
  /** Content-Length, when the client sent one: too large is refused before a byte is read. */
  declaredBytes?: number;
  /** Idempotency-Key: a repeat of the upload that made the tenant's artifact with this key returns that artifact. */
  idempotencyKey?: string;
}

/** The artifact, and whether this upload made it (false: a repeat with its Idempotency-Key). */
export interface UploadResult {
  artifact: ArtifactResponseDto;
  created: boolean;
}

/** Whose artifact an upload becomes; a node's upload also becomes its job's result. */
export interface ArtifactOwner {
  tenantId: string;
  createdBy: string;
  resultOf?: LiveAssignment;
}

/**
 * A repeat of an upload with its Idempotency-Key must be the same upload: the same bytes (`sha256`, when known),
 * name and content type. The expiry may differ: the later of the two stands.
 */
function assertSameUpload(earlier: ArtifactRecord, incoming: ArtifactUpload, sha256: string | undefined): void {
  const differs = [
    ...(sha256 !== undefined && sha256 !== earlier.sha256 ? ['its bytes (sha256)'] : []),
    ...(incoming.name !== earlier.name ? ['its name'] : []),
    ...(incoming.contentType !== earlier.contentType ? ['its content type'] : []),
  ];
  if (differs.length > 0) {
    throw new DomainError(
      ApiErrorCode.IdempotencyConflict,
      `Idempotency-Key was already used for artifact ${earlier.id} by an upload that differs in ${differs.join(', ')}; nothing was kept`,
    );
  }
}

/** Uploads, reads, lists and deletes artifacts; decides who may do which (`readable`, `owner`). */
@Injectable()
export class ArtifactsService {
  private readonly logger = new Logger(ArtifactsService.name);

  constructor(
    @Inject(ArtifactsRepository) private readonly artifacts: ArtifactsRepository,
    @Inject(ARTIFACT_STORE) private readonly store: ArtifactStore,
    @Inject(Access) private readonly access: Access,
    @Inject(TenantsRepository) private readonly tenants: TenantsRepository,
    @InjectAppConfig() private readonly config: AppConfig,
  ) {}

  /**
   * The artifact if the caller may read it. A user: its own tenant's (or any, with the cross-tenant capability
   * and artifacts:read). A node: only while the named assignment is live on that node incarnation (409
   * assignment_not_live otherwise, so the node gives the attempt up rather than fail the job), and only an
   * artifact linked to that assignment's job. Everything else answers exactly like a missing artifact.
   */
  async readable(caller: ArtifactCaller, id: string): Promise<ArtifactRecord> {
    const record = await this.artifacts.findById(id);
    if (caller.worker) {
      const { nodeId, incarnation, assignmentId } = caller.worker;
      const live = await this.artifacts.findLiveAssignment(assignmentId, nodeId, incarnation);
      const entry = { action: 'artifact.read', resource: `artifact/${id}`, targetTenant: live?.tenantId ?? null };
      // A node's refusals are denials too: one asking for what its assignment does not reach leaves a trace.
      if (!live) {
        await this.access.deny(caller.actor, { ...entry, reason: 'assignment_not_live' });
        throw notLive(assignmentId);
      }
      if (record && (await this.artifacts.isLinkedToJob(id, live.jobId))) return record;
      await this.access.deny(caller.actor, { ...entry, reason: 'not_linked' });
    } else if (record && (await this.access.require(caller.actor, record.tenantId, 'artifacts:read', 'artifact.read', `artifact/${id}`))) {
      return record;
    }
    throw notFound(id);
  }

  /**
   * Whose artifact the caller's upload becomes: a user's tenant; for a node, the tenant of the live assignment's
   * job. With a manager the assignment row is share-locked, so it stays live until the upload's row commits.
   */
  async owner(caller: ArtifactCaller, manager?: EntityManager): Promise<ArtifactOwner> {
    if (!caller.worker) return { tenantId: caller.actor.tenantId, createdBy: caller.actor.subject };
    const { nodeId, incarnation, assignmentId } = caller.worker;
    const live = await this.artifacts.findLiveAssignment(assignmentId, nodeId, incarnation, manager);
    if (!live) throw notLive(assignmentId);
    return { tenantId: live.tenantId, createdBy: `node:${nodeId}`, resultOf: live };
  }

  /**
   * Streams the body into the store and records it. Nothing is kept unless the whole body arrived within the
   * size limit and matched the expected sha256; the bytes become visible together with the row. With an
   * Idempotency-Key that made an artifact before, the same upload (bytes, name and content type) returns that
   * artifact and keeps nothing new; another one gets 409, refused before its body is read when its query shows it.
   */
  async upload(caller: ArtifactCaller, incoming: ArtifactUpload): Promise<UploadResult> {
    // Checked before reading: a node whose assignment ended, a tenant nobody created, a body announced too large,
    // or a key already used for another upload costs no transfer.
    const { tenantId } = await this.owner(caller);
    const maxBytes = await this.maxBytesFor(tenantId);
    if (incoming.declaredBytes !== undefined && incoming.declaredBytes > maxBytes) throw tooLarge(maxBytes);
    const { idempotencyKey } = incoming;
    if (idempotencyKey !== undefined) {
      if (caller.worker) throw validationFailed([{ field: IDEMPOTENCY_KEY_HEADER, problem: 'only for user tokens, not a node’s upload' }]);
      const earlier = await this.artifacts.findByIdempotencyKey(tenantId, idempotencyKey);
      if (earlier) assertSameUpload(earlier, incoming, incoming.expectedSha256);
    }
    let upload: RecordedUpload;
    try {
      upload = await stageUpload(this.artifacts, this.store, incoming.body, { expectedSha256: incoming.expectedSha256, maxBytes });
    } catch (error) {
      if (error instanceof ObjectTooLargeError) throw tooLarge(maxBytes);
      if (error instanceof ChecksumMismatchError) {
        throw new DomainError(ApiErrorCode.ChecksumMismatch, `the uploaded bytes hash to sha256 ${error.actual}, not ${error.expected}; nothing was kept`, [
          { field: 'sha256', problem: 'does not match the uploaded bytes' },
        ]);
      }
      throw error;
    }
    const { staged } = upload;
    const expiresInSeconds = incoming.expiresInSeconds ?? this.config.artifacts.defaultExpirySeconds;
    const expiresAt = expiresInSeconds > 0 ? new Date(Date.now() + expiresInSeconds * 1000) : null;
    let result: UploadResult;
    try {
      // Before the row's transaction, which then holds no pooled connection across the store's copy (ADR 0061).
      await commitUpload(upload);
      result = await this.artifacts.transaction(async (manager): Promise<UploadResult> => {
        const owner = await this.owner(caller, manager);
        if (idempotencyKey !== undefined) {
          // Under the key's lock a concurrent upload with the same key has committed its row or not begun.
          await this.artifacts.lockIdempotencyKey(manager, owner.tenantId, idempotencyKey);
          const earlier = await this.artifacts.findByIdempotencyKey(owner.tenantId, idempotencyKey, manager);
          if (earlier) {
            assertSameUpload(earlier, incoming, staged.sha256);
            // The later expiry of the two: a repeat that comes as its artifact expires keeps it for the job it precedes.
            // One that retention deleted meanwhile freed the key: this upload makes the artifact again.
            const kept = await this.artifacts.extendExpiry(manager, earlier.id, expiresAt);
            if (kept) return { artifact: toArtifactResponse(kept), created: false };
          }
        }
        await settleUpload(this.artifacts, manager, upload);
        const inserted = await this.artifacts.insert(
          manager,
          {
            id: randomUUID(),
            tenantId: owner.tenantId,
            name: incoming.name,
            contentType: incoming.contentType,
            sizeBytes: staged.sizeBytes,
            sha256: staged.sha256,
            createdBy: owner.createdBy,
            expiresAt,
          },
          idempotencyKey ?? null,
        );
        if (owner.resultOf) await this.artifacts.linkToJob(manager, owner.resultOf.jobId, inserted.id, 'result');
        await this.access.allow(caller.actor, { action: 'artifact.upload', resource: `artifact/${inserted.id}`, targetTenant: inserted.tenantId }, manager);
        return { artifact: toArtifactResponse(inserted), created: true };
      });
    } catch (error) {
      await this.drop(upload);
      throw error;
    }
    // A repeat keeps nothing: its bytes go unless another artifact uses them, as the earlier one does.
    if (!result.created) await this.drop(upload);
    return result;
  }

  private async drop(upload: RecordedUpload): Promise<void> {
    await dropUpload(this.artifacts, this.store, upload).catch((cleanup: unknown) =>
      this.logger.error({ msg: 'could not clean up after a failed upload; artifact retention will', sha256: upload.staged.sha256, error: String(cleanup) }),
    );
  }

  /**
   * The upload cap of a tenant: MLIS_ARTIFACTS_MAX_BYTES, or the tenant's own max_artifact_bytes when lower. A verified
   * token can still name a tenant nobody created: 404 tenant_not_found, before the upload reaches the foreign key.
   */
  async maxBytesFor(tenantId: string): Promise<number> {
    const tenant = await this.tenants.findById(tenantId);
    if (!tenant) throw unknownTenant(tenantId);
    return Math.min(this.config.artifacts.maxBytes, tenant.maxArtifactBytes ?? Number.POSITIVE_INFINITY);
  }

  /** The artifact's bytes, or a range of them; 404 when a delete took them after the row was read. */
  async open(record: ArtifactRecord, range?: ByteRange): Promise<Readable> {
    try {
      return await this.store.get(record.sha256, range);
    } catch (error) {
      if (error instanceof ObjectMissingError) throw notFound(record.id);
      throw error;
    }
  }

  async meta(caller: ArtifactCaller, id: string): Promise<ArtifactResponseDto> {
    return toArtifactResponse(await this.readable(caller, id));
  }

  /** The caller's tenant's artifacts, newest first; with `prefix`, those whose name starts with it. */
  async list(actor: RequestActor, query: ArtifactListQueryDto): Promise<ArtifactListResponseDto> {
    const limit = query.limit ?? DEFAULT_ARTIFACT_PAGE_SIZE;
    const records = await this.artifacts.list({
      tenantId: actor.tenantId,
      namePrefix: query.prefix,
      // One extra row tells whether another page exists.
      limit: limit + 1,
      after: query.cursor === undefined ? undefined : decodeJobCursor(query.cursor),
    });
    const page = records.slice(0, limit);
    return {
      items: page.map(toArtifactResponse),
      next_cursor: records.length > limit ? encodeJobCursor(page[page.length - 1].cursor) : null,
    };
  }

  /**
   * Deletes the artifact (its bytes too when no other artifact shares them); 409 while a waiting or running job uses it.
   * Access is decided before the transaction (an artifact never changes tenant), so a denial's row is written outside it.
   */
  async remove(actor: RequestActor, id: string): Promise<void> {
    const owner = (await this.artifacts.findById(id))?.tenantId;
    const grant = owner !== undefined && (await this.access.require(actor, owner, 'artifacts:write', 'artifact.delete', `artifact/${id}`));
    if (!grant) throw notFound(id);
    await this.artifacts.transaction(async (manager) => {
      const record = await this.artifacts.lockForDelete(manager, id);
      if (!record) throw notFound(id);
      const using = await this.artifacts.jobsUsing(manager, id, JOBS_NAMED_IN_USE);
      if (using.total > 0) {
        const named = using.jobs.map((job) => `${job.id} (${job.state})`).join(', ');
        const more = using.total > using.jobs.length ? ` and ${using.total - using.jobs.length} more` : '';
        const [users, remedy] =
          using.total === 1 ? ['a waiting or running job', 'that job ends, or cancel it'] : [`${using.total} waiting or running jobs`, 'they end, or cancel them'];
        throw new DomainError(ApiErrorCode.ArtifactInUse, `artifact ${id} is used by ${users}: ${named}${more}; delete it once ${remedy}`);
      }
      // The bytes go last: once they are gone, only the commit itself can still fail and leave a row without them.
      await grant.record(manager);
      await deleteArtifact(this.artifacts, this.store, manager, record);
    });
  }
}

// How many of the jobs that keep an artifact from being deleted its refusal names.
const JOBS_NAMED_IN_USE = 5;

function notFound(id: string): DomainError {
  return new DomainError(ApiErrorCode.ArtifactNotFound, `artifact ${id} not found`);
}

function notLive(assignmentId: string): DomainError {
  return new DomainError(ApiErrorCode.AssignmentNotLive, `assignment ${assignmentId} is not live on this node incarnation`);
}

function tooLarge(maxBytes: number): DomainError {
  return new DomainError(ApiErrorCode.PayloadTooLarge, `the artifact exceeds the limit of ${maxBytes} bytes; nothing was kept`);
}
