import type { ApiClient } from '../api-client';
import type { CreateJobRequest, Job } from '../api-types';
import { createContext, ExitCode } from '../cli-context';
import { jobFixture } from '../testing/fixtures';
import { createJobRequest, submitCommand } from './submit.command';

describe(createJobRequest.name, () => {
  it('sends the placement fields given, and only those: the API owns the defaults', () => {
    expect(createJobRequest('sleep', { waitTimeout: 1 })).toEqual({ task_type: 'sleep', params: {} });
    expect(
      createJobRequest('sleep', {
        waitTimeout: 1,
        gpu: 2,
        priorityClass: 'urgent',
        workerGroup: 'gpu',
        selector: { zone: 'eu-1', rack: 'r7' },
        gpuModel: 'A100',
        gpuMemoryMb: 0,
      }),
    ).toEqual({
      task_type: 'sleep',
      params: {},
      gpu: 2,
      priority_class: 'urgent',
      worker_group: 'gpu',
      node_selector: { zone: 'eu-1', rack: 'r7' },
      gpu_model: 'A100',
      // 0 is a value (any GPU memory), not "not given".
      gpu_memory_mb: 0,
    });
  });
});

describe(submitCommand.name, () => {
  it('with --wait reports each change of pending reason and queue position while the job waits', async () => {
    const queued = jobFixture({ pending_reason: 'queued' });
    const replies: Job[] = [
      { ...queued, pending_reason: 'quota_exceeded', pending_detail: 'max_running_jobs 2', queue_position: 3 },
      { ...queued, pending_reason: 'quota_exceeded', pending_detail: 'max_running_jobs 2', queue_position: 3 },
      { ...queued, pending_reason: 'preempting', pending_detail: null, queue_position: 1 },
      { ...queued, state: 'SUCCEEDED', attempts: 1, pending_reason: null },
    ];
    const sent: CreateJobRequest[] = [];
    const client = {
      createJob: async (request: CreateJobRequest) => {
        sent.push(request);
        return queued;
      },
      getJob: async () => replies.shift() ?? jobFixture({ state: 'FAILED' }),
    } as unknown as ApiClient;
    let stderr = '';
    const context = createContext(client, false, { stdout: () => undefined, stderr: (text) => (stderr += text), pollIntervalMs: 0 });

    const code = await submitCommand(context, 'sleep', { wait: true, waitTimeout: 60, priorityClass: 'urgent' });

    expect(code).toBe(ExitCode.Ok);
    expect(sent).toEqual([{ task_type: 'sleep', params: {}, priority_class: 'urgent' }]);
    expect(stderr.split('\n').filter(Boolean)).toEqual([
      'QUEUED: queued',
      'QUEUED: quota_exceeded (max_running_jobs 2), position 3',
      'QUEUED: preempting, position 1',
      'SUCCEEDED (attempt 1/3)',
    ]);
  });
});
