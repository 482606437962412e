import { Inject, Injectable } from '@nestjs/common';
import { ArtifactsRepository, JobsRepository, NodesRepository, type JobChange, type NodeEntity } from '@mlis/db';

export const STREAM_POLL_MS = 1000;
export const CHANGES_PER_POLL = 2000;
// Longer than any ledger transaction: a change stamped earlier but committed later is still read (and sent once).
const LOOKBACK_SECONDS = 5;

export type StreamEvent = 'job' | 'node' | 'queue' | 'artifact';

/**
 * What one stream may see: its tenant's jobs; node changes only for an operator (nodes are `admin:workers` data); that
 * the tenant's artifacts changed only for a holder of `artifacts:read`.
 */
export interface StreamAudience {
  tenantId: string;
  nodes: boolean;
  artifacts: boolean;
}

/** What of a node the console redraws on: not last_seen_at, which moves on every heartbeat. */
function nodeSignature(node: NodeEntity): string {
  return [node.status, node.incarnation, node.usedSlots, node.usedCpuMillis, node.usedMemMb, node.usedGpus].join('/');
}

/**
 * The change feed behind /v1/stream: polls the ledger once a second per open stream (jobs by updated_at,
 * nodes by what the console shows, the scheduling cycle's time, when the tenant's artifacts last changed) and emits
 * what changed. Polling the ledger keeps the feed exact without a second source of truth; a console has a handful of
 * streams open, each a few cheap indexed reads a second.
 */
@Injectable()
export class StreamService {
  constructor(
    @Inject(JobsRepository) private readonly jobs: JobsRepository,
    @Inject(NodesRepository) private readonly nodes: NodesRepository,
    @Inject(ArtifactsRepository) private readonly artifacts: ArtifactsRepository,
  ) {}

  /** Calls `emit` for each change until the returned function is called; `fail` on a database error. */
  follow(audience: StreamAudience, emit: (event: StreamEvent, data: unknown) => void, fail: (error: unknown) => void, pollMs = STREAM_POLL_MS): () => void {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let since: string | null = null;
    // Set after a full page: more changes wait than a page holds, so the next poll reads on from the page's last.
    let resumeAfter: JobChange | null = null;
    // What was sent per job (its updated_at, and when it was last read), kept until unread for twice the look-back window:
    // while the tenant is idle, `since` stays put and every poll reads the same changes again.
    const sent = new Map<string, { updatedAt: string; at: number }>();
    let nodes: Map<string, string> | null = null;
    let cycleAt: string | null | undefined;
    let artifactsAt: string | null | undefined;
    const poll = async () => {
      since ??= await this.jobs.clock();
      const changes = resumeAfter
        ? await this.jobs.changedAfter(audience.tenantId, resumeAfter, CHANGES_PER_POLL)
        : await this.jobs.changedSince(audience.tenantId, since, LOOKBACK_SECONDS, CHANGES_PER_POLL);
      const now = Date.now();
      for (const change of changes) {
        const known = sent.get(change.id)?.updatedAt === change.updated_at;
        sent.set(change.id, { updatedAt: change.updated_at, at: now });
        if (!known) emit('job', change);
      }
      if (changes.length > 0) since = changes[changes.length - 1].updated_at;
      // Without it, more than a page of changes inside the look-back window read as the same page at every poll.
      resumeAfter = changes.length === CHANGES_PER_POLL ? changes[changes.length - 1] : null;
      for (const [id, entry] of sent) if (entry.at < now - 2 * LOOKBACK_SECONDS * 1000) sent.delete(id);
      if (audience.nodes) {
        const current = new Map((await this.nodes.list()).map((node) => [node.id, nodeSignature(node)]));
        if (nodes) {
          for (const [id, signature] of current) if (nodes.get(id) !== signature) emit('node', { node_id: id, status: signature.split('/')[0] });
          for (const id of nodes.keys()) if (!current.has(id)) emit('node', { node_id: id, status: 'GONE' });
        }
        nodes = current;
      }
      // A cycle rewrites queue positions and pending reasons without touching the jobs' updated_at.
      const cycle = await this.jobs.queueCycleAt();
      if (cycleAt !== undefined && cycle !== cycleAt) emit('queue', { cycle_at: cycle });
      cycleAt = cycle;
      // Artifacts are added and deleted without a job changing: an upload, a delete, expiry.
      if (audience.artifacts) {
        const changed = await this.artifacts.changedAt(audience.tenantId);
        if (artifactsAt !== undefined && changed !== artifactsAt) emit('artifact', { changed_at: changed });
        artifactsAt = changed;
      }
    };
    const loop = () => {
      poll().then(
        () => {
          if (!stopped) timer = setTimeout(loop, pollMs);
        },
        (error: unknown) => {
          if (!stopped) fail(error);
        },
      );
    };
    loop();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }
}
