// In-memory artifact metadata, for specs that run without Postgres (the bytes go to a real fs store).
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { ArtifactStore } from '@mlis/artifacts';
import type { JobState } from '@mlis/contracts';
import type {
  ArtifactListQuery,
  ArtifactRecord,
  ArtifactRole,
  ArtifactsRepository,
  LiveAssignment,
  NewArtifact,
  PendingUpload,
} from '@mlis/db';
import type { Db } from './fakes';


/** Calls `beforeCommit` each time an upload staged in `store` from now on commits its bytes, just before they go. */
export function onUploadCommit(store: ArtifactStore, beforeCommit: () => void): void {
  const stage = store.stage.bind(store);
  jest.spyOn(store, 'stage').mockImplementation(async (...args) => {
    const staged = await stage(...args);
    const commit = staged.commit.bind(staged);
    staged.commit = async () => {
      beforeCommit();
      await commit();
    };
    return staged;
  });
}

/** A placed assignment as the fake ledger knows it. */
export interface FakeAssignment extends LiveAssignment {
  nodeId: string;
  incarnation: number;
  live: boolean;
}

export class FakeArtifactsRepository implements Db<ArtifactsRepository> {
  readonly rows: ArtifactRecord[] = [];
  readonly links: { jobId: string; artifactId: string; role: ArtifactRole }[] = [];
  readonly assignments: FakeAssignment[] = [];
  /** Job states for the in-use check; a job not listed is finished. */
  readonly jobStates = new Map<string, JobState>();
  /** Uploads recorded before their bytes were committed and not cleared since, by id. */
  readonly pendingUploads = new Map<string, string>();
  /** When each tenant's artifacts last changed, as Postgres would print it. */
  readonly changes = new Map<string, string>();
  /** Idempotency keys by artifact id (a deleted artifact's is never found: its row is gone). */
  private readonly keys = new Map<string, string>();
  /** Transactions under way: a spec can check that something happens outside them. */
  openTransactions = 0;
  private clock = Date.parse('2025-01-01T00:00:00.000Z');

  // No database: work runs directly; a throw restores what it changed.
  async transaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    const rows = [...this.rows];
    const links = [...this.links];
    const pendingUploads = new Map(this.pendingUploads);
    this.openTransactions += 1;
    try {
      return await work({} as EntityManager);
    } catch (error) {
      this.rows.splice(0, this.rows.length, ...rows);
      this.links.splice(0, this.links.length, ...links);
      this.pendingUploads.clear();
      for (const [id, sha256] of pendingUploads) this.pendingUploads.set(id, sha256);
      throw error;
    } finally {
      this.openTransactions -= 1;
    }
  }

  async lockContent(): Promise<void> {}

  async recordPendingUpload(sha256: string): Promise<PendingUpload> {
    const id = randomUUID();
    this.pendingUploads.set(id, sha256);
    return { id, sha256 };
  }

  async clearPendingUpload(id: string): Promise<boolean> {
    return this.pendingUploads.delete(id);
  }

  async insert(_manager: EntityManager, artifact: NewArtifact, idempotencyKey: string | null = null): Promise<ArtifactRecord> {
    const createdAt = new Date((this.clock += 1));
    const record = { ...artifact, createdAt, cursor: { createdAt: createdAt.toISOString().replace('Z', '000Z'), id: artifact.id } };
    this.rows.push(record);
    if (idempotencyKey !== null) this.keys.set(artifact.id, idempotencyKey);
    this.markChanged(artifact.tenantId);
    return record;
  }

  async changedAt(tenantId: string): Promise<string | null> {
    return this.changes.get(tenantId) ?? null;
  }

  private markChanged(tenantId: string): void {
    this.changes.set(tenantId, new Date((this.clock += 1)).toISOString());
  }

  // One process, no interleaving inside a transaction: nothing to serialize.
  async lockIdempotencyKey(): Promise<void> {}

  async extendExpiry(_manager: EntityManager, id: string, expiresAt: Date | null): Promise<ArtifactRecord | null> {
    const row = this.rows.find((candidate) => candidate.id === id);
    if (!row) return null;
    row.expiresAt = expiresAt === null || row.expiresAt === null ? null : new Date(Math.max(row.expiresAt.getTime(), expiresAt.getTime()));
    return row;
  }

  async findByIdempotencyKey(tenantId: string, key: string): Promise<ArtifactRecord | null> {
    return this.rows.find((row) => row.tenantId === tenantId && this.keys.get(row.id) === key) ?? null;
  }

  async findById(id: string): Promise<ArtifactRecord | null> {
    return this.rows.find((row) => row.id === id) ?? null;
  }

  async list(query: ArtifactListQuery): Promise<ArtifactRecord[]> {
    const after = query.after;
    return this.rows
      .filter((row) => row.tenantId === query.tenantId)
      .filter((row) => query.namePrefix === undefined || (row.name !== null && row.name.startsWith(query.namePrefix)))
      .filter((row) => !after || row.cursor.createdAt < after.createdAt || (row.cursor.createdAt === after.createdAt && row.id < after.id))
      .sort((a, b) => (a.cursor.createdAt === b.cursor.createdAt ? (a.id < b.id ? 1 : -1) : a.cursor.createdAt < b.cursor.createdAt ? 1 : -1))
      .slice(0, query.limit);
  }

  async lockForDelete(_manager: EntityManager, id: string): Promise<ArtifactRecord | null> {
    return this.findById(id);
  }

  async jobsUsing(_manager: EntityManager, id: string, limit: number): Promise<{ jobs: { id: string; state: JobState }[]; total: number }> {
    const jobs = this.links
      .filter((link) => link.artifactId === id)
      .map((link) => ({ id: link.jobId, state: this.jobStates.get(link.jobId) ?? 'SUCCEEDED' }))
      .filter((job) => job.state === 'QUEUED' || job.state === 'RUNNING');
    return { jobs: jobs.slice(0, limit), total: jobs.length };
  }

  async delete(manager: EntityManager, artifact: Pick<ArtifactRecord, 'id' | 'sha256'>): Promise<number> {
    const index = this.rows.findIndex((row) => row.id === artifact.id);
    if (index >= 0) {
      this.markChanged(this.rows[index].tenantId);
      this.rows.splice(index, 1);
    }
    this.links.splice(0, this.links.length, ...this.links.filter((link) => link.artifactId !== artifact.id));
    return this.countContentUsers(manager, artifact.sha256);
  }

  async countContentUsers(_manager: EntityManager, sha256: string): Promise<number> {
    return this.rows.filter((row) => row.sha256 === sha256).length + [...this.pendingUploads.values()].filter((pending) => pending === sha256).length;
  }

  async linkToJob(_manager: EntityManager, jobId: string, artifactId: string, role: ArtifactRole): Promise<void> {
    this.links.push({ jobId, artifactId, role });
  }

  async isLinkedToJob(artifactId: string, jobId: string): Promise<boolean> {
    return this.links.some((link) => link.artifactId === artifactId && link.jobId === jobId);
  }

  async findExpiredUnreferenced(): Promise<ArtifactRecord[]> {
    throw new Error('retention runs in the control process, not the API');
  }

  async lockExpiredUnreferenced(): Promise<ArtifactRecord | null> {
    throw new Error('retention runs in the control process, not the API');
  }

  async findPendingUploads(): Promise<PendingUpload[]> {
    throw new Error('retention runs in the control process, not the API');
  }

  async findLiveAssignment(assignmentId: string, nodeId: string, incarnation: number): Promise<LiveAssignment | null> {
    const found = this.assignments.find((a) => a.assignmentId === assignmentId && a.nodeId === nodeId && a.incarnation === incarnation && a.live);
    return found ? { assignmentId: found.assignmentId, jobId: found.jobId, tenantId: found.tenantId } : null;
  }
}
