import { createHash, randomUUID } from 'node:crypto';
import { pipeline, Readable } from 'node:stream';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { commitUpload, dropUpload, ObjectMissingError, settleUpload, stageUpload, type ArtifactStore, type RecordedUpload } from '@mlis/artifacts';
import type { AppConfig } from '@mlis/config';
import { ApiErrorCode, findArtifactRefs, travelsAsArtifact } from '@mlis/contracts';
import { ArtifactsRepository, type JobEntity } from '@mlis/db';
import { countArtifactBytes } from '@mlis/metrics';
import { ARTIFACT_STORE } from '../artifacts/artifacts.service';
import { Access } from '../common/access';
import type { Actor } from '../common/actor';
import { DomainError, UnresolvableReferenceError, type ErrorDetail } from '../common/domain-error';
import { InjectAppConfig } from '../core/app-config';
import { canonicalJson } from './canonical-json';

/** More distinct references than this in one job's params is refused: each costs a lookup in the submission. */
export const MAX_PARAM_ARTIFACT_REFS = 256;

/** Params too large to travel inline: their canonical JSON in the store, waiting for the row that `attach` adds. */
export interface StoredParams {
  artifactId: string;
  upload: RecordedUpload;
}

/** A job's whole result, whichever way it is kept. */
export interface JobResultBody {
  body: Readable;
  sizeBytes: number;
}

// Postgres foreign_key_violation: the artifact was deleted between the check and the link.
const FOREIGN_KEY_VIOLATION = '23503';

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Where jobs meet artifacts in the API: `artifact://` references in params are checked and linked as the job's
 * inputs, params larger than the inline threshold become the job's params artifact, and a result stored as an
 * artifact is read back from the store.
 */
@Injectable()
export class JobArtifactsService {
  private readonly logger = new Logger(JobArtifactsService.name);

  constructor(
    @Inject(ArtifactsRepository) private readonly artifacts: ArtifactsRepository,
    @Inject(ARTIFACT_STORE) private readonly store: ArtifactStore,
    @Inject(Access) private readonly access: Access,
    @InjectAppConfig() private readonly config: AppConfig,
  ) {}

  /**
   * The ids of the artifacts `params` reference. A malformed reference, a missing artifact and another tenant's
   * all answer 422 artifact_not_found naming the param path (alike: no existence leak across tenants); another
   * tenant's also leaves a deny row in the audit log. Only the tenant's own artifacts: the cross-tenant capability
   * does not let a job of one tenant read another's.
   */
  async inputs(actor: Actor, requestId: string, params: unknown): Promise<string[]> {
    const refs = findArtifactRefs(params);
    const distinct = new Set(refs.map((ref) => ref.id));
    if (distinct.size > MAX_PARAM_ARTIFACT_REFS) {
      throw new DomainError(ApiErrorCode.ValidationFailed, `params reference more than ${MAX_PARAM_ARTIFACT_REFS} artifacts`, [
        { field: 'params', problem: `at most ${MAX_PARAM_ARTIFACT_REFS} distinct artifact:// references` },
      ]);
    }
    const found = new Map<string, boolean>();
    const problems: ErrorDetail[] = [];
    for (const ref of refs) {
      if (ref.id === null) {
        problems.push({ field: ref.path, problem: 'not an artifact reference: artifact://<uuid>' });
        continue;
      }
      if (!found.has(ref.id)) {
        const owner = (await this.artifacts.findById(ref.id))?.tenantId;
        const grant = owner !== undefined && (await this.access.require({ ...actor, requestId }, owner, null, 'job.submit', `artifact/${ref.id}`));
        found.set(ref.id, Boolean(grant));
      }
      if (!found.get(ref.id)) problems.push({ field: ref.path, problem: `artifact ${ref.id} not found` });
    }
    if (problems.length > 0) throw unresolvable(problems);
    return [...found.keys()];
  }

  /** Whether params this large (as canonical JSON) are stored as an artifact instead of inline. */
  offloads(paramsJson: string): boolean {
    return travelsAsArtifact(Buffer.byteLength(paramsJson), this.config.inlinePayloadMaxBytes);
  }

  /** The params' sha256 as an idempotent replay compares them: of their canonical JSON, the bytes an offloaded copy holds. */
  paramsDigest(job: Pick<JobEntity, 'params' | 'paramsArtifactId' | 'paramsSha256'>): string | null {
    return job.paramsArtifactId === null ? sha256Hex(canonicalJson(job.params)) : job.paramsSha256;
  }

  digestOf(paramsJson: string): string {
    return sha256Hex(paramsJson);
  }

  /**
   * Stores the params' canonical JSON under its content address, before the submission's transaction (ADR 0061); until
   * `attach` adds its row, only its pending record names it, and `discard` removes it.
   */
  async storeParams(paramsJson: string): Promise<StoredParams> {
    const upload = await stageUpload(this.artifacts, this.store, Readable.from([Buffer.from(paramsJson)]));
    const params = { artifactId: randomUUID(), upload };
    try {
      await commitUpload(upload);
    } catch (error) {
      await this.discard(params);
      throw error;
    }
    return params;
  }

  /**
   * In the submission's transaction, after the job row: links the referenced inputs (their foreign key keeps a
   * concurrent delete out until commit) and records the params artifact.
   */
  async attach(
    manager: EntityManager,
    job: { id: string; tenantId: string; submittedBy: string },
    inputs: string[],
    params: StoredParams | null,
  ): Promise<void> {
    for (const id of inputs) {
      await this.artifacts.linkToJob(manager, job.id, id, 'input').catch((error: unknown) => {
        if ((error as { code?: string }).code === FOREIGN_KEY_VIOLATION) throw unresolvable([{ field: 'params', problem: `artifact ${id} not found` }]);
        throw error;
      });
    }
    if (!params) return;
    await settleUpload(this.artifacts, manager, params.upload);
    const { staged } = params.upload;
    const expirySeconds = this.config.artifacts.defaultExpirySeconds;
    await this.artifacts.insert(manager, {
      id: params.artifactId,
      tenantId: job.tenantId,
      name: `params-${job.id}.json`,
      contentType: 'application/json',
      sizeBytes: staged.sizeBytes,
      sha256: staged.sha256,
      createdBy: job.submittedBy,
      // Retention never takes an artifact a waiting or running job uses; afterwards it ages like any upload.
      expiresAt: expirySeconds > 0 ? new Date(Date.now() + expirySeconds * 1000) : null,
    });
    await this.artifacts.linkToJob(manager, job.id, params.artifactId, 'params');
  }

  /** After a submission that did not commit: drops the params' bytes unless another artifact uses them. */
  async discard(params: StoredParams | null): Promise<void> {
    if (!params) return;
    await dropUpload(this.artifacts, this.store, params.upload).catch((error: unknown) =>
      this.logger.error({ msg: 'could not clean up the params of a failed submission; artifact retention will', sha256: params.upload.staged.sha256, error: String(error) }),
    );
  }

  /** The whole result JSON of a SUCCEEDED job: from its result artifact, or its inline result. */
  async result(job: Pick<JobEntity, 'id' | 'tenantId' | 'result' | 'resultArtifactId'>): Promise<JobResultBody> {
    if (job.resultArtifactId === null) {
      const bytes = Buffer.from(JSON.stringify(job.result ?? null));
      return { body: Readable.from([bytes]), sizeBytes: bytes.length };
    }
    const gone = () =>
      new DomainError(ApiErrorCode.ArtifactNotFound, `the result of job ${job.id} was stored as artifact ${job.resultArtifactId}, which no longer exists (expired or deleted)`);
    const artifact = await this.artifacts.findById(job.resultArtifactId);
    if (!artifact) throw gone();
    // The id comes from the node that ran the job: one that named another tenant's artifact is answered as if it were gone.
    if (artifact.tenantId !== job.tenantId) {
      this.logger.warn({ msg: "a job's result names another tenant's artifact", job_id: job.id, artifact_id: artifact.id });
      throw gone();
    }
    try {
      const counted = countArtifactBytes('out');
      // pipeline, not pipe: a store read that fails mid-way fails the answer too.
      pipeline(await this.store.get(artifact.sha256), counted, () => undefined);
      return { body: counted, sizeBytes: artifact.sizeBytes };
    } catch (error) {
      // A delete took the bytes after the row was read.
      if (error instanceof ObjectMissingError) throw gone();
      throw error;
    }
  }
}

function unresolvable(problems: ErrorDetail[]): UnresolvableReferenceError {
  const what = problems.length === 1 ? 'an artifact' : `${problems.length} artifacts`;
  return new UnresolvableReferenceError(ApiErrorCode.ArtifactNotFound, `params reference ${what} that this tenant does not have`, problems);
}
