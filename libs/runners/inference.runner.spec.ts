/** @jest-environment ./test/support/onnx-environment.ts */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeArtifacts } from '../../test/support/fake-artifacts';
import { loadModelConfig } from '@mlis/config';
import { ModelHost } from '@mlis/models';
import { createInferenceRunner, DEFAULT_LABELS, inferenceTask, type ClassifyResult, type EmbedResult, type InferenceResult, type SimilarityResult } from './inference.runner';
import { InvalidParamsError, type ArtifactReader, type RunContext } from './runner';

const LINES = 'artifact://2d7e5b9a-6b65-4d2a-9c77-8c3f4b8bb023';
const JSON_TEXTS = 'artifact://3e8f6cab-7c76-4e3b-8d88-9d405c9cc134';
const NOT_TEXTS = 'artifact://4f907dbc-8d87-4f4c-9e99-ae516daddd45';

function problems(params: unknown): { field: string; problem: string }[] {
  try {
    inferenceTask.validate(params);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidParamsError);
    return (error as InvalidParamsError).details;
  }
  throw new Error('expected validate to throw');
}

describe('inferenceRunner', () => {
  // Each test loads a model cold; with the other unit suites on the same two cores that can take over Jest's 5 s.
  jest.setTimeout(30_000);
  let dir: string;
  let models: ModelHost;
  let artifacts: ArtifactReader;
  const beats: unknown[] = [];
  const context = (signal = new AbortController().signal): RunContext => ({
    jobId: 'job-1',
    attempt: 1,
    gpuIds: [],
    heartbeat: (details) => void beats.push(details),
    signal,
    sleep: async () => undefined,
    artifacts,
  });
  const infer = (params: unknown): Promise<InferenceResult> => createInferenceRunner(models).run(inferenceTask.validate(params), context());

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mlis-inference-'));
    writeFileSync(join(dir, 'lines.txt'), 'The cat sleeps on the sofa.\r\n\nStocks fell sharply today.\nA kitten naps on the couch.\n');
    writeFileSync(join(dir, 'texts.json'), JSON.stringify(['great product, works perfectly', 'terrible and broken, the worst']));
    writeFileSync(join(dir, 'numbers.json'), JSON.stringify(['fine', 42]));
    artifacts = fakeArtifacts({
      [LINES]: { path: join(dir, 'lines.txt'), contentType: 'text/plain' },
      [JSON_TEXTS]: { path: join(dir, 'texts.json'), contentType: 'application/json' },
      [NOT_TEXTS]: { path: join(dir, 'numbers.json'), contentType: 'application/json' },
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    beats.length = 0;
    models = new ModelHost({ ...loadModelConfig(), onnxProviders: ['cpu'], batchMaxWaitMs: 0 });
  });
  afterEach(() => models.close());

  it('validates: one source of texts, a mode, query only for similarity, labels only for classify', () => {
    expect(inferenceTask.validate({ text: 'hi' })).toEqual({ mode: 'classify', texts: ['hi'], labels: DEFAULT_LABELS });
    expect(inferenceTask.validate({ inputs: ['a', 'b'], mode: 'embed' })).toEqual({ mode: 'embed', texts: ['a', 'b'], labels: [] });
    expect(inferenceTask.validate({ input: LINES, mode: 'similarity', query: 'q' })).toEqual({ mode: 'similarity', input: LINES, query: 'q', labels: [] });
    expect(inferenceTask.validate({ texts: ['x'], labels: { cat: 'about cats', dog: 'about dogs' } }).labels).toEqual([
      { label: 'cat', description: 'about cats' },
      { label: 'dog', description: 'about dogs' },
    ]);
    expect(problems({})).toEqual([{ field: 'params.text', problem: 'is required (or give texts, inputs or input)' }]);
    expect(problems({ text: 'a', texts: ['b'] })).toEqual([{ field: 'params', problem: 'give one of text, texts, inputs and input, not text and texts' }]);
    expect(problems({ texts: ['ok', 3] })).toEqual([{ field: 'params.texts[1]', problem: 'must be a string' }]);
    expect(problems({ text: 'a', mode: 'translate' })).toEqual([{ field: 'params.mode', problem: 'must be one of classify, embed, similarity' }]);
    expect(problems({ text: 'a', mode: 'similarity' })).toEqual([{ field: 'params.query', problem: 'is required in mode similarity' }]);
    expect(problems({ text: 'a', mode: 'embed', query: 'q', labels: ['x', 'y'] })).toEqual([
      { field: 'params.query', problem: 'is only for mode similarity' },
      { field: 'params.labels', problem: 'is only for mode classify' },
    ]);
    expect(problems({ text: 'a', labels: ['only'] })[0].field).toBe('params.labels');
    expect(problems({ text: 'a', labels: { good: '', bad: 'b' } })).toEqual([{ field: 'params.labels.good', problem: 'must be a non-empty string of at most 1000 characters' }]);
    expect(problems({ input: 'https://example.com/texts' })).toEqual([{ field: 'params.input', problem: 'must be an artifact reference, artifact://<uuid>' }]);
    expect(problems({ text: 'x'.repeat(10_001) })[0].field).toBe('params.text');
  });

  it("labels the seed example's mixed text positive, with scores for every label", async () => {
    const example = JSON.parse(readFileSync(join(__dirname, '../../examples/job.inference.json'), 'utf8')) as { params: unknown };
    const result = (await infer(example.params)) as ClassifyResult;
    expect(result).toMatchObject({ model: 'all-MiniLM-L6-v2 (int8 ONNX)', mode: 'classify', execution_provider: 'cpu', cache: 'cold', embedding_dim: 384, texts: 1, batch_size: 1 });
    expect(result.tokens).toBeGreaterThan(15);
    const [prediction] = result.predictions;
    expect(prediction.label).toBe('positive');
    expect(Object.keys(prediction.scores)).toEqual(['positive', 'negative', 'neutral']);
    expect(Object.values(prediction.scores).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    expect(prediction.score).toBe(Math.max(...Object.values(prediction.scores)));
    expect(JSON.stringify(result)).not.toContain('scheduler');
  });

  it('classifies clear sentiment and facts, and takes labels of its own', async () => {
    const { predictions } = (await infer({
      texts: ['Absolutely wonderful experience, highly recommend!', 'This is the worst service I have ever used, it crashes every day.', 'The package contains 12 items.'],
    })) as ClassifyResult;
    expect(predictions.map((p) => p.label)).toEqual(['positive', 'negative', 'neutral']);
    const topics = (await infer({ texts: ['The GPU ran out of memory during training.', 'The striker scored twice in the final.'], labels: { computing: 'computers, hardware and software', sport: 'sports, games and athletes' } })) as ClassifyResult;
    expect(topics.predictions.map((p) => p.label)).toEqual(['computing', 'sport']);
    expect(topics.cache).toBe('warm');
  });

  it('embeds into unit-length 384-d vectors', async () => {
    const result = (await infer({ mode: 'embed', inputs: ['first text', 'second text'] })) as EmbedResult;
    expect(result.embeddings).toHaveLength(2);
    for (const vector of result.embeddings) {
      expect(vector).toHaveLength(384);
      expect(Math.hypot(...vector)).toBeCloseTo(1, 4);
    }
    expect(result.embeddings[0]).not.toEqual(result.embeddings[1]);
  });

  it('ranks texts of a line-per-text artifact by similarity to the query', async () => {
    const result = (await infer({ mode: 'similarity', query: 'a cat resting on furniture', input: LINES })) as SimilarityResult;
    expect(result.texts).toBe(3);
    expect(result.ranking.map((r) => r.index)).toEqual([0, 2, 1]);
    expect(result.ranking[0].score).toBeGreaterThan(result.ranking[2].score + 0.3);
  });

  it('reads a JSON array artifact, and says what is wrong with one that is not texts', async () => {
    const { predictions } = (await infer({ input: JSON_TEXTS })) as ClassifyResult;
    expect(predictions.map((p) => p.label)).toEqual(['positive', 'negative']);
    const error = await infer({ input: NOT_TEXTS }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidParamsError);
    expect((error as InvalidParamsError).details).toEqual([{ field: 'params.input', problem: 'text 1 must be a non-empty string of at most 10000 characters' }]);
  });

  it('heartbeats its progress and stops when cancelled', async () => {
    await infer({ mode: 'embed', texts: Array.from({ length: 70 }, (_, i) => `text number ${i}`) });
    expect(beats).toEqual([{ embedded: 64, of: 70 }, { embedded: 70, of: 70 }]);

    const controller = new AbortController();
    const reason = new Error('cancelled');
    controller.abort(reason);
    await expect(createInferenceRunner(models).run(inferenceTask.validate({ text: 'a' }), context(controller.signal))).rejects.toBe(reason);
  });
});
