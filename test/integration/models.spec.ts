import { TINY_B, TINY_W, tinyOnnxModel } from '../support/tiny-onnx';
import { api, env, submit, TERMINAL, tokenFor, waitForJob } from './support/api';

/** POST /v1/artifacts with raw bytes; returns the artifact's id. */
async function upload(bytes: Uint8Array | string, contentType: string): Promise<string> {
  const response = await fetch(`${env.apiUrl}/v1/artifacts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokenFor()}`, 'content-type': contentType },
    body: bytes,
  });
  const body = (await response.json()) as { id: string };
  if (response.status !== 201) throw new Error(`upload answered ${response.status}: ${JSON.stringify(body)}`);
  return body.id;
}

async function succeeded(jobId: string): Promise<any> {
  const job = await waitForJob(jobId, (j) => TERMINAL.includes(j.state));
  expect({ state: job.state, error: job.error }).toEqual({ state: 'SUCCEEDED', error: null });
  return job;
}

async function fullResult(jobId: string): Promise<any> {
  const response = await api('GET', `/v1/jobs/${jobId}/result`);
  expect(response.status).toBe(200);
  return response.body;
}

describe('models on the real stack: a user ONNX model and MiniLM over artifacts', () => {
  it('runs a tiny ONNX model uploaded as an artifact and returns its hand-checked outputs', async () => {
    const model = await upload(tinyOnnxModel(), 'application/octet-stream');
    const x = [
      [1, 0, 0],
      [0, 1, -1],
    ];
    const accepted = await submit({
      task_type: 'onnx',
      params: {
        model: `artifact://${model}`,
        inputs: { X: { type: 'float32', dims: [2, 3], data: x.flat() }, K: { type: 'int64', dims: [2], data: [3, -7] } },
      },
    });
    const job = await succeeded(accepted.id);
    // Y = X·W + B by hand: row 1 picks W's first row, row 2 is W's second row minus its third.
    const y = x.map((row) => TINY_B.map((b, j) => b + row.reduce((sum, value, i) => sum + value * TINY_W[i][j], 0)));
    expect(y).toEqual([
      [1.5, 1],
      [-1.5, -3],
    ]);
    expect(job.result).toMatchObject({
      execution_provider: 'cpu',
      outputs: {
        Y: { type: 'float32', dims: [2, 2], data: y.flat() },
        Z: { type: 'float32', dims: [2, 2], data: [1.5, 1, 0, 0] },
        K2: { type: 'int64', dims: [2], data: [6, -14] },
      },
    });
  });

  it('embeds texts read from an artifact and returns a large result as an artifact', async () => {
    // 300 texts × 384 dims is far above the 64 KiB inline threshold.
    const texts = Array.from({ length: 300 }, (_, i) => `sentence number ${i} about ${i % 2 === 0 ? 'cats' : 'trains'}`);
    const input = await upload(texts.join('\n'), 'text/plain');
    const accepted = await submit({ task_type: 'inference', params: { mode: 'embed', input: `artifact://${input}` } });
    const job = await succeeded(accepted.id);
    expect(job.result).toBeNull();
    expect(job.result_artifact).toMatch(/^[0-9a-f-]{36}$/);

    const result = await fullResult(job.id);
    expect(result).toMatchObject({ mode: 'embed', embedding_dim: 384, texts: 300, execution_provider: 'cpu' });
    expect(result.embeddings).toHaveLength(300);
    for (const vector of result.embeddings as number[][]) {
      expect(vector).toHaveLength(384);
      expect(Math.hypot(...vector)).toBeCloseTo(1, 3);
    }
  });

  it('ranks texts by similarity to a query', async () => {
    const accepted = await submit({
      task_type: 'inference',
      params: {
        mode: 'similarity',
        query: 'How do I reset my password?',
        texts: ['The weather is sunny today.', 'Steps to change your account password', 'Best pizza in town'],
      },
    });
    const job = await succeeded(accepted.id);
    expect(job.result.ranking[0].index).toBe(1);
    expect(job.result.ranking[0].score).toBeGreaterThan(job.result.ranking[1].score);
  });
});
