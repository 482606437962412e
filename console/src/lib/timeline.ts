import type { Assignment, Job } from '../api/client';

export type PhaseKind = 'queued' | 'placed' | 'running';

export interface Phase {
  kind: PhaseKind;
  start: number;
  end: number;
  /** Still going at `now`. */
  open: boolean;
  /** Position on the shared time axis, percent. */
  left: number;
  width: number;
}

export interface AttemptRow {
  attempt: number;
  nodeId: string;
  gpuIds: number[];
  state: Assignment['state'];
  reason: string | null;
  preemptedBy: string | null;
  phases: Phase[];
}

export interface Timeline {
  start: number;
  end: number;
  rows: AttemptRow[];
  /** The wait after the last attempt ended (re-queued) or before the first one (never placed). */
  waiting: Phase | null;
}

type RawPhase = Omit<Phase, 'left' | 'width'>;

const ENDED = new Set<Assignment['state']>(['SUCCEEDED', 'FAILED', 'LOST', 'CANCELLED']);

/**
 * Lays a job's attempts on one time axis: for each attempt, queued (since submission or the previous
 * attempt's end) → placed → running → end. Open phases run to `now`.
 */
export function layoutTimeline(job: Pick<Job, 'created_at' | 'finished_at' | 'state'>, assignments: Assignment[], now: number): Timeline {
  const t = (iso: string) => Date.parse(iso);
  const jobEnd = job.finished_at ? t(job.finished_at) : now;
  const raw: (Omit<AttemptRow, 'phases'> & { phases: RawPhase[] })[] = [];
  let queuedSince = t(job.created_at);
  const sorted = [...assignments].sort((a, b) => a.attempt - b.attempt);
  for (const a of sorted) {
    const placed = t(a.created_at);
    const ended = a.ended_at ? t(a.ended_at) : null;
    const started = a.started_at ? t(a.started_at) : null;
    const stop = ended ?? (ENDED.has(a.state) ? placed : now);
    const phases: RawPhase[] = [{ kind: 'queued', start: queuedSince, end: placed, open: false }];
    phases.push({ kind: 'placed', start: placed, end: started ?? stop, open: started === null && ended === null });
    if (started !== null) phases.push({ kind: 'running', start: started, end: stop, open: ended === null });
    raw.push({ attempt: a.attempt, nodeId: a.node_id, gpuIds: a.gpu_ids, state: a.state, reason: a.reason, preemptedBy: a.preempted_by, phases });
    queuedSince = stop;
  }
  const last = sorted[sorted.length - 1];
  const lastEnded = !last || ENDED.has(last.state);
  const waitingRaw = job.state === 'QUEUED' && lastEnded ? { kind: 'queued' as const, start: queuedSince, end: now, open: true } : null;

  const start = t(job.created_at);
  const end = Math.max(jobEnd, ...raw.flatMap((r) => r.phases.map((p) => p.end)), waitingRaw?.end ?? start, start + 1);
  const span = end - start;
  const place = (p: RawPhase): Phase => ({
    ...p,
    left: ((p.start - start) / span) * 100,
    width: (Math.max(0, p.end - p.start) / span) * 100,
  });
  return {
    start,
    end,
    rows: raw.map((r) => ({ ...r, phases: r.phases.map(place) })),
    waiting: waitingRaw ? place(waitingRaw) : null,
  };
}
