import { describe, expect, it } from 'vitest';
import type { Assignment } from '../api/client';
import { layoutTimeline } from './timeline';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

function attempt(n: number, fields: Partial<Assignment>): Assignment {
  return {
    id: `a${n}`,
    attempt: n,
    state: 'RUNNING',
    node_id: `cpu-${n}`,
    worker_uid: `cpu-${n}`,
    node_incarnation: 1,
    hostname: 'h',
    pid: 1,
    group: 'cpu',
    gpu_ids: [],
    cuda_visible_devices: '',
    reason: null,
    created_at: at(0),
    started_at: null,
    ended_at: null,
    preempted_by: null,
    ...fields,
  };
}

describe(layoutTimeline.name, () => {
  it('lays a lost first attempt and a succeeded second on one axis: queued → placed → running for each', () => {
    const timeline = layoutTimeline(
      { created_at: at(0), finished_at: at(100), state: 'SUCCEEDED' },
      [
        attempt(2, { state: 'SUCCEEDED', node_id: 'cpu-2', created_at: at(50), started_at: at(60), ended_at: at(100) }),
        attempt(1, { state: 'LOST', reason: 'node cpu-1 stopped heartbeating', created_at: at(10), started_at: at(20), ended_at: at(40) }),
      ],
      T0 + 999_000,
    );
    expect(timeline.rows.map((r) => [r.attempt, r.state, r.reason])).toEqual([
      [1, 'LOST', 'node cpu-1 stopped heartbeating'],
      [2, 'SUCCEEDED', null],
    ]);
    expect(timeline.rows[0].phases.map((p) => [p.kind, p.left, p.width])).toEqual([
      ['queued', 0, 10],
      ['placed', 10, 10],
      ['running', 20, 20],
    ]);
    // The second attempt was queued again from the moment the first was lost.
    expect(timeline.rows[1].phases.map((p) => [p.kind, p.left, p.width])).toEqual([
      ['queued', 40, 10],
      ['placed', 50, 10],
      ['running', 60, 40],
    ]);
    expect(timeline.waiting).toBeNull();
    expect(timeline.rows.flatMap((r) => r.phases).some((p) => p.open)).toBe(false);
  });

  it('runs open phases to now, and shows the wait of a job never placed or re-queued', () => {
    const now = T0 + 30_000;
    const running = layoutTimeline({ created_at: at(0), finished_at: null, state: 'RUNNING' }, [attempt(1, { created_at: at(10), started_at: at(15), gpu_ids: [0, 1] })], now);
    expect(running.rows[0].gpuIds).toEqual([0, 1]);
    expect(running.rows[0].phases.at(-1)).toMatchObject({ kind: 'running', end: now, open: true, left: 50, width: 50 });

    const waiting = layoutTimeline({ created_at: at(0), finished_at: null, state: 'QUEUED' }, [], now);
    expect(waiting.rows).toEqual([]);
    expect(waiting.waiting).toMatchObject({ kind: 'queued', start: T0, end: now, open: true, left: 0, width: 100 });

    const requeued = layoutTimeline({ created_at: at(0), finished_at: null, state: 'QUEUED' }, [attempt(1, { state: 'LOST', created_at: at(5), started_at: at(6), ended_at: at(10) })], now);
    expect(requeued.waiting).toMatchObject({ start: T0 + 10_000, end: now });
  });

  it('draws an attempt ended before it started as placed only', () => {
    const timeline = layoutTimeline({ created_at: at(0), finished_at: at(20), state: 'CANCELLED' }, [attempt(1, { state: 'CANCELLED', created_at: at(10), ended_at: at(20) })], T0 + 60_000);
    expect(timeline.rows[0].phases.map((p) => p.kind)).toEqual(['queued', 'placed']);
  });
});
