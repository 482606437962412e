import { render, screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { Assignment, Job } from '../api/client';
import { PrefsProvider } from '../lib/prefs';
import { AttemptTimeline } from './attempt-timeline';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

function assignment(fields: Partial<Assignment>): Assignment {
  return {
    id: 'a',
    attempt: 1,
    state: 'RUNNING',
    node_id: 'gpu-1',
    worker_uid: 'gpu-1',
    node_incarnation: 1,
    hostname: 'h',
    pid: 1,
    group: 'gpu',
    gpu_ids: [],
    cuda_visible_devices: '',
    reason: null,
    created_at: at(1),
    started_at: at(2),
    ended_at: null,
    preempted_by: null,
    ...fields,
  };
}

describe('AttemptTimeline', () => {
  it('shows each attempt with its node, GPU ids, end state and reason, and the phases in words for screen readers', () => {
    const job = {
      created_at: at(0),
      finished_at: null,
      state: 'RUNNING',
      assignments: [
        assignment({ attempt: 1, node_id: 'gpu-1', gpu_ids: [0, 1], state: 'LOST', reason: 'HEARTBEAT timeout', ended_at: at(10) }),
        assignment({ attempt: 2, node_id: 'gpu-2', gpu_ids: [1], created_at: at(12), started_at: at(13), preempted_by: '9b6e2f9e-0d8f-4a43-9f55-2c1f3bfbf3a1' }),
      ],
    } as unknown as Job;
    render(
      <PrefsProvider>
        <AttemptTimeline job={job} now={T0 + 20_000} />
      </PrefsProvider>,
    );
    const first = screen.getByTestId('attempt-1');
    expect(first).toHaveTextContent('Attempt 1 · gpu-1 · GPU 0,1 · LOST · HEARTBEAT timeout');
    expect(within(first).getByText(/queued 1s, placed 1s, running 8s/)).toBeInTheDocument();
    const second = screen.getByTestId('attempt-2');
    expect(second).toHaveTextContent('Attempt 2 · gpu-2 · GPU 1 · RUNNING · preempted by 9b6e2f9e');
    expect(within(second).getByText(/running 7s so far/)).toBeInTheDocument();
  });

  it('says so when no attempt was made yet', () => {
    const job = { created_at: at(0), finished_at: at(5), state: 'CANCELLED', assignments: [] } as unknown as Job;
    render(
      <PrefsProvider>
        <AttemptTimeline job={job} now={T0 + 20_000} />
      </PrefsProvider>,
    );
    expect(screen.getByText('No attempt yet.')).toBeInTheDocument();
  });
});
