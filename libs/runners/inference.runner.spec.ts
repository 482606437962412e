import { EMBEDDING_DIM, inferenceRunner, INFERENCE_MODEL, tokenize } from './inference.runner';
import { InvalidParamsError, type RunContext } from './runner';

function fakeContext(signal = new AbortController().signal): RunContext & { beats: unknown[] } {
  const beats: unknown[] = [];
  return {
    jobId: 'job-1',
    attempt: 1,
    gpuIds: [],
    heartbeat: (details) => beats.push(details),
    signal,
    artifacts: { open: () => Promise.reject(new Error('this runner reads no artifacts')) },
    sleep: async () => undefined,
    beats,
  };
}

function problems(params: unknown): { field: string; problem: string }[] {
  try {
    inferenceRunner.validate(params);
  } catch (error) {
    return (error as InvalidParamsError).details;
  }
  return [];
}

async function infer(params: unknown) {
  return inferenceRunner.run(inferenceRunner.validate(params), fakeContext());
}

describe('inferenceRunner', () => {
  it('accepts text or inputs, but not both or neither', () => {
    expect(inferenceRunner.validate({ text: 'hi' })).toEqual({ inputs: ['hi'] });
    expect(inferenceRunner.validate({ inputs: ['a', 'b'] })).toEqual({ inputs: ['a', 'b'] });
    for (const bad of [{}, { text: 'a', inputs: ['b'] }, { text: '' }, { text: 'x'.repeat(10_001) }, { inputs: [] }, { inputs: ['ok', 3] }, { text: 5 }]) {
      expect(() => inferenceRunner.validate(bad)).toThrow(InvalidParamsError);
    }
    expect(problems({ inputs: ['ok', 3] })).toEqual([{ field: 'params.inputs[1]', problem: 'must be a string' }]);
    expect(problems({ text: 'a', inputs: ['b'] })).toEqual([{ field: 'params', problem: 'give either text or inputs, not both' }]);
  });

  it('is deterministic and does not echo its input', async () => {
    const params = { text: 'The scheduler is fast and reliable, I love it.' };
    const first = await infer(params);
    const second = await infer(params);
    expect(second).toEqual(first);
    expect(first.model).toBe(INFERENCE_MODEL);
    expect(first.embedding_dim).toBe(EMBEDDING_DIM);
    expect(first.tokens).toBe(tokenize(params.text).length);
    expect(JSON.stringify(first)).not.toContain(params.text);
  });

  it('gives different outputs for different inputs and unit-length embeddings', async () => {
    const { predictions } = await infer({ inputs: ['great product, works perfectly', 'terrible and broken, the worst', 'the sky is blue'] });
    expect(predictions.map((p) => p.label)).toEqual(['POSITIVE', 'NEGATIVE', 'NEUTRAL']);
    expect(predictions[0].embedding).not.toEqual(predictions[1].embedding);
    for (const { embedding, score } of predictions) {
      expect(embedding).toHaveLength(EMBEDDING_DIM);
      expect(Math.hypot(...embedding)).toBeCloseTo(1, 4);
      expect(score).toBeGreaterThanOrEqual(0.5);
      expect(score).toBeLessThanOrEqual(1);
    }
  });

  it('flips sentiment after a negator', async () => {
    const { predictions } = await infer({ inputs: ['this is good', 'this is not good', "I don't hate it"] });
    expect(predictions.map((p) => p.label)).toEqual(['POSITIVE', 'NEGATIVE', 'POSITIVE']);
  });

  it('heartbeats per input and stops when cancelled', async () => {
    const context = fakeContext();
    await inferenceRunner.run({ inputs: ['a', 'b'] }, context);
    expect(context.beats).toEqual([{ done: 1, of: 2 }, { done: 2, of: 2 }]);

    const controller = new AbortController();
    const reason = new Error('cancelled');
    controller.abort(reason);
    await expect(inferenceRunner.run({ inputs: ['a'] }, fakeContext(controller.signal))).rejects.toBe(reason);
  });
});
