import { api, submit, TERMINAL, waitForJob } from './support/api';

// The test stack's nodes: cpu-1, cpu-2 (no GPUs) and gpu-1, gpu-2 (two "simulated" GPUs of 16384 MiB each), no labels.
describe('placement requests against the real stack', () => {
  jest.setTimeout(90_000);

  it('runs a job only where its group and GPU model match, and stores what it asked for', async () => {
    const accepted = await submit({
      task_type: 'gpu_demo',
      params: { seconds: 0.2 },
      cpu: 1,
      mem_mb: 256,
      gpu: 1,
      worker_group: 'gpu',
      gpu_model: 'simulated',
      gpu_memory_mb: 16384,
      priority_class: 'high',
    });
    expect(accepted).toMatchObject({ worker_group: 'gpu', gpu_model: 'simulated', gpu_memory_mb: 16384, priority: 10, priority_class: 'high', node_selector: {} });
    const done = await waitForJob(accepted.id, (j) => TERMINAL.includes(j.state));
    expect(done.state).toBe('SUCCEEDED');
    expect(done.latest_assignment.group).toBe('gpu');
  });

  it('refuses what no registered node could ever run with 422 unschedulable, and a priority with a class with 400', async () => {
    const model = await api('POST', '/v1/jobs', { task_type: 'sleep', gpu: 1, gpu_model: 'H100' });
    expect(model.status).toBe(422);
    expect(model.body.error).toMatchObject({ code: 'unschedulable', details: [{ field: 'gpu_model' }] });
    const group = await api('POST', '/v1/jobs', { task_type: 'sleep', worker_group: 'tpu' });
    expect(group.status).toBe(422);
    expect(group.body.error.message).toBe('no worker group "tpu"; the groups are cpu, gpu');
    const labels = await api('POST', '/v1/jobs', { task_type: 'sleep', node_selector: { zone: 'eu-1' } });
    expect(labels.status).toBe(422);
    const both = await api('POST', '/v1/jobs', { task_type: 'sleep', priority: 1, priority_class: 'low' });
    expect(both.status).toBe(400);
  });
});
