/** @jest-environment ./test/support/onnx-environment.ts */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { tinyOnnxModel } from '../../test/support/tiny-onnx';
import { loadModelConfig, type ModelConfig } from '@mlis/config';
import { ModelHost } from './model-host';
import { cosine, MAX_TOKENS, SENTENCE_DIM } from './sentence-embedder';
import reference from './fixtures/minilm-reference.json';

// The model is installed by scripts/install-model.sh (npm test runs it first); MLIS_MODEL_DIR or the default cache path.
const config: ModelConfig = { ...loadModelConfig(), onnxProviders: ['cpu'], batchMaxWaitMs: 0 };

describe(ModelHost.name, () => {
  // Each test loads a model cold; with the other unit suites on the same two cores that can take over Jest's 5 s.
  jest.setTimeout(30_000);
  let host: ModelHost;
  afterEach(() => host.close());

  it('embeds a sentence as the independent Python reference does (cosine >= 0.99)', async () => {
    host = new ModelHost(config);
    const { vectors, tokens, model } = await host.embed([reference.sentence]);
    expect(model).toBe('all-MiniLM-L6-v2 (int8 ONNX)');
    expect(tokens).toEqual([reference.tokens]);
    expect(vectors[0]).toHaveLength(SENTENCE_DIM);
    expect(Math.hypot(...vectors[0])).toBeCloseTo(1, 5);
    expect(cosine(vectors[0], reference.embedding)).toBeGreaterThanOrEqual(0.99);
  });

  it('scores similar sentences above dissimilar ones', async () => {
    host = new ModelHost(config);
    const [cat, kitten, stocks, cpu, gpu] = (
      await host.embed([
        'A cat is sleeping on the sofa.',
        'A kitten naps on the couch.',
        'The stock market fell sharply today.',
        'The job ran on a CPU worker node.',
        'The task was executed on a GPU machine.',
      ])
    ).vectors;
    expect(cosine(cat, kitten)).toBeGreaterThan(cosine(cat, stocks) + 0.3);
    expect(cosine(cpu, gpu)).toBeGreaterThan(cosine(cpu, cat));
    expect(cosine(cpu, gpu)).toBeGreaterThan(cosine(gpu, stocks));
  });

  it('cuts texts to 256 word pieces and embeds a batch as it embeds each text alone', async () => {
    host = new ModelHost(config);
    const long = 'word '.repeat(400);
    const together = await host.embed(['short one', long]);
    expect(together.tokens).toEqual([4, MAX_TOKENS]);
    expect(together.truncated).toEqual([false, true]);
    const alone = await host.embed(['short one']);
    // Padding is masked out of the mean, but the int8 model quantizes activations with one scale per tensor,
    // so batch-mates shift a vector a little (Python onnxruntime gives the same numbers; see ADR 0011).
    expect(cosine(together.vectors[0], alone.vectors[0])).toBeGreaterThan(0.97);
  });

  it('loads cold once, then is warm', async () => {
    host = new ModelHost(config);
    expect((await host.embed(['first'])).cache).toBe('cold');
    expect((await host.embed(['second'])).cache).toBe('warm');
    expect(host.poolStats().keys).toEqual([`sentence:${config.modelDir}`]);
  });

  it('runs requests arriving within the window as one batch, and each alone with max wait 0', async () => {
    host = new ModelHost({ ...config, batchMaxWaitMs: 50, batchMaxSize: 8 });
    const texts = ['one', 'two', 'three', 'four'];
    const together = await Promise.all(texts.map((text) => host.embed([text])));
    for (const result of together) expect(result).toMatchObject({ batchSize: 4, batchRequests: 4 });
    await host.close();

    host = new ModelHost({ ...config, batchMaxWaitMs: 0 });
    const alone = await Promise.all(texts.map((text) => host.embed([text])));
    for (const result of alone) expect(result).toMatchObject({ batchSize: 1, batchRequests: 1 });
    // Batching moves a vector only as far as the int8 model's shared activation scale does (ADR 0011).
    together.forEach((result, i) => expect(cosine(result.vectors[0], alone[i].vectors[0])).toBeGreaterThan(0.97));
  });

  it('falls back to cpu, and says so, when cuda is asked for but its provider library is absent', async () => {
    host = new ModelHost({ ...config, onnxProviders: ['cuda', 'cpu'] });
    const result = await host.embed([reference.sentence]);
    expect(result.executionProvider).toBe('cpu');
    expect(cosine(result.vectors[0], reference.embedding)).toBeGreaterThanOrEqual(0.99);
  });

  it('evicts the least recently used model when a new one does not fit the byte budget', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlis-pool-'));
    try {
      const path = join(dir, 'tiny.onnx');
      const bytes = tinyOnnxModel();
      writeFileSync(path, bytes);
      const file = { path, sha256: createHash('sha256').update(bytes).digest('hex'), sizeBytes: statSync(path).size };
      const minilmBytes = statSync(join(config.modelDir, 'model.onnx')).size + statSync(join(config.modelDir, 'tokenizer.json')).size;
      // Room for MiniLM or for MiniLM and the tiny model, never for MiniLM twice: exactly one fits with the other.
      host = new ModelHost({ ...config, cacheBytes: minilmBytes + file.sizeBytes });
      const inputs = (session: { inputNames: readonly string[] }) => Promise.resolve(session.inputNames.join(','));
      await host.embed(['warm me']);
      await expect(host.withModelFile(file, inputs)).resolves.toMatchObject({ value: 'X,K', cache: 'cold' });
      expect(host.poolStats()).toEqual({ keys: [`sentence:${config.modelDir}`, `file:${file.sha256}`], bytes: minilmBytes + file.sizeBytes });

      await host.close();
      host = new ModelHost({ ...config, cacheBytes: minilmBytes });
      await host.embed(['warm me']);
      await expect(host.withModelFile(file, inputs)).resolves.toMatchObject({ cache: 'cold' });
      // MiniLM was least recently used: out; the tiny model stays.
      expect(host.poolStats().keys).toEqual([`file:${file.sha256}`]);
      expect((await host.embed(['again'])).cache).toBe('cold');
      expect(host.poolStats().keys).toEqual([`sentence:${config.modelDir}`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
