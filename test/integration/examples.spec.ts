import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, submit, TERMINAL, waitForJob } from './support/api';
import { ROOT } from './support/stack-env';

function example(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(ROOT, 'examples', name), 'utf8'));
}

describe("the seed's example jobs over HTTP", () => {
  jest.setTimeout(90_000);

  it('sleep reaches SUCCEEDED with {"slept": seconds}', async () => {
    const request = example('job.sleep.json');
    const accepted = await submit(request);
    expect(accepted.state).toBe('QUEUED');
    const job = await waitForJob(accepted.id, (j) => TERMINAL.includes(j.state));
    expect(job.state).toBe('SUCCEEDED');
    expect(job.result).toEqual({ slept: (request.params as { seconds: number }).seconds });
    expect(job.attempts).toBe(1);
    expect(job.assignments).toHaveLength(1);
    expect(job.latest_assignment).toMatchObject({ state: 'SUCCEEDED', attempt: 1, group: 'cpu', gpu_ids: [] });
    expect(job.latest_assignment.worker_uid).toBe(job.latest_assignment.node_id);
    expect(job.latest_assignment.pid).toEqual(expect.any(Number));
  });

  it('gpu_demo reaches SUCCEEDED with gpu_ids [0] and CUDA_VISIBLE_DEVICES "0"', async () => {
    const accepted = await submit(example('job.gpu_demo.json'));
    const job = await waitForJob(accepted.id, (j) => TERMINAL.includes(j.state));
    expect(job.state).toBe('SUCCEEDED');
    expect(job.result).toMatchObject({ gpu_ids: [0], cuda_visible_devices: '0' });
    expect(job.latest_assignment).toMatchObject({ group: 'gpu', gpu_ids: [0], cuda_visible_devices: '0' });
  });

  it('inference reaches SUCCEEDED with a real MiniLM classification of the example text', async () => {
    const request = example('job.inference.json');
    const [first, second] = await Promise.all([submit(request), submit(request)]);
    const jobs = await Promise.all([first, second].map((j) => waitForJob(j.id, (x) => TERMINAL.includes(x.state))));
    for (const job of jobs) {
      expect(job.state).toBe('SUCCEEDED');
      expect(job.result).toMatchObject({
        model: 'all-MiniLM-L6-v2 (int8 ONNX)',
        mode: 'classify',
        execution_provider: 'cpu',
        embedding_dim: 384,
        texts: 1,
        predictions: [{ label: 'positive' }],
      });
      expect(['cold', 'warm']).toContain(job.result.cache);
      expect(job.result.batch_size).toBeGreaterThanOrEqual(1);
    }
    // The model's answer is deterministic; only how it ran (cache, batch) may differ between the two.
    expect(jobs[0].result.predictions).toEqual(jobs[1].result.predictions);
    expect(jobs[0].result.tokens).toBe(jobs[1].result.tokens);
    expect(JSON.stringify(jobs[0].result)).not.toContain(JSON.stringify(request.params));
  });

  it("accepts the recovery demo's 80-second sleep and lists it newest first", async () => {
    const accepted = await submit(example('job.long-sleep.json'));
    const list = await api('GET', '/v1/jobs?limit=5');
    expect(list.status).toBe(200);
    expect(list.body.items[0].id).toBe(accepted.id);
    const cancelled = await api('POST', `/v1/jobs/${accepted.id}/cancel`);
    expect(cancelled.status).toBe(202);
    const job = await waitForJob(accepted.id, (j) => TERMINAL.includes(j.state));
    expect(job.state).toBe('CANCELLED');
  });
});
