import type { ApiClient } from '../api-client';
import type { Job } from '../api-types';
import { createContext, ExitCode } from '../cli-context';
import { assignmentFixture, jobFixture } from '../testing/fixtures';
import { statusCommand } from './status.command';

function statusOf(job: Job, json = false): { code: Promise<ExitCode>; out: () => string; asked: string[] } {
  let stdout = '';
  const asked: string[] = [];
  const client = {
    getJob: async (id: string) => {
      asked.push(id);
      return job;
    },
  } as unknown as ApiClient;
  const context = createContext(client, json, { stdout: (text) => (stdout += text), stderr: () => undefined });
  return { code: statusCommand(context, job.id), out: () => stdout, asked };
}

describe(statusCommand.name, () => {
  it('shows why a queued job waits, its detail and its place in the queue', async () => {
    const job = jobFixture({
      gpu: 2,
      priority: 10,
      priority_class: 'high',
      worker_group: 'gpu',
      gpu_model: 'A100',
      pending_reason: 'quota_exceeded',
      pending_detail: 'max_gpus 4: 4 in use',
      queue_position: 1,
    });
    const run = statusOf(job);
    expect(await run.code).toBe(ExitCode.Ok);
    expect(run.asked).toEqual([job.id]);
    const text = run.out();
    expect(text).toContain('state:      QUEUED');
    expect(text).toContain('pending:    quota_exceeded: max_gpus 4: 4 in use');
    expect(text).toContain('position:   1 in the queue');
    expect(text).toContain('priority 10 (high)');
    expect(text).toContain('placement:  group gpu, gpu model A100');
  });

  it('lists a preempted attempt before the attempt that replaced it, with the reason it ended', async () => {
    const job = jobFixture({
      state: 'RUNNING',
      attempts: 2,
      assignments: [
        assignmentFixture({ attempt: 1, state: 'PREEMPTED', node_id: 'gpu-1', group: 'gpu', gpu_ids: [0], reason: 'preempted by a job of priority 100', ended_at: '2025-01-02T03:05:00.000Z' }),
        assignmentFixture({ id: '5b7f3c1e-0000-4000-8000-000000000002', attempt: 2, state: 'RUNNING', node_id: 'gpu-2', group: 'gpu', gpu_ids: [1] }),
      ],
    });
    const run = statusOf(job);
    await run.code;
    const rows = run.out().split('\n');
    const header = rows.findIndex((line) => line.startsWith('ATTEMPT'));
    expect(rows[header + 1]).toMatch(/^1\s+PREEMPTED\s+gpu-1\s+gpu\s+0\s.*2025-01-02T03:05:00Z\s+preempted by a job of priority 100$/);
    expect(rows[header + 2]).toMatch(/^2\s+RUNNING\s+gpu-2\s+gpu\s+1\s/);
    // A running job has no pending reason or queue position to show.
    expect(run.out()).not.toContain('pending:');
    expect(run.out()).not.toContain('position:');
  });

  it('prints the API JSON as it came with --json, queue position included', async () => {
    const job = jobFixture({ pending_reason: 'insufficient_capacity', pending_detail: 'gpu', queue_position: 7 });
    const run = statusOf(job, true);
    await run.code;
    expect(JSON.parse(run.out())).toEqual(job);
  });
});
