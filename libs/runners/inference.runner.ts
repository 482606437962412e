import { readFile } from 'node:fs/promises';
import type { Embeddings, ModelHost } from '@mlis/models';
import { ParamsChecker, isPlainObject } from './params-checker';
import { InvalidParamsError, type LocalArtifact, type RunContext, type Runner, type TaskSpec } from './runner';

export const INFERENCE_MODES = ['classify', 'embed', 'similarity'] as const;
export type InferenceMode = (typeof INFERENCE_MODES)[number];

const MAX_TEXT_CHARS = 10_000;
const MAX_INLINE_TEXTS = 256;
const MAX_ARTIFACT_TEXTS = 4096;
const MAX_ARTIFACT_BYTES = 16 * 1024 * 1024;
const MAX_LABELS = 32;
/** Texts handed to the model host at a time: heartbeats and cancellation get through between chunks. */
const CHUNK = 64;
/** Cosine similarities of MiniLM sit in a narrow band; this scale turns them into usable label probabilities. */
const LABEL_SCALE = 20;

export interface Label {
  label: string;
  /** What the label means, in words: the text the input is compared with. */
  description: string;
}

/** Sentiment, the labels `classify` uses when params give none (the seed's example asks for no mode). */
export const DEFAULT_LABELS: readonly Label[] = [
  { label: 'positive', description: 'I love it, it is great and works well. I am happy with it.' },
  { label: 'negative', description: 'I hate it, it is terrible and broken. I am disappointed with it.' },
  { label: 'neutral', description: 'The report lists the date, the time, the place and the number of items.' },
];

export interface InferenceParams {
  mode: InferenceMode;
  /** Inline texts; absent when they come from `input`. */
  texts?: string[];
  /** artifact://<id> of the texts: UTF-8, one text per line, or a JSON array of strings. */
  input?: string;
  /** The text `similarity` ranks the others against. */
  query?: string;
  labels: Label[];
}

interface CommonResult {
  model: string;
  mode: InferenceMode;
  execution_provider: string;
  cache: 'cold' | 'warm';
  /** Texts in the largest model run this job took part in, and how many jobs shared that run. */
  batch_size: number;
  batch_requests: number;
  embedding_dim: number;
  texts: number;
  /** Word pieces over all texts, [CLS] and [SEP] included, after truncation to 256 per text. */
  tokens: number;
  truncated: number;
}

export interface ClassifyResult extends CommonResult {
  mode: 'classify';
  predictions: { label: string; score: number; scores: Record<string, number> }[];
}

export interface EmbedResult extends CommonResult {
  mode: 'embed';
  embeddings: number[][];
}

export interface SimilarityResult extends CommonResult {
  mode: 'similarity';
  /** Texts by cosine similarity to the query, best first. */
  ranking: { index: number; score: number }[];
}

export type InferenceResult = ClassifyResult | EmbedResult | SimilarityResult;

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += a[i] * b[i];
  return sum;
}

function parseLabels(check: ParamsChecker): Label[] {
  const value = check.raw('labels');
  if (value === undefined) return [...DEFAULT_LABELS];
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((item: unknown) => [typeof item === 'string' ? item : '', item])
    : isPlainObject(value)
      ? Object.entries(value)
      : [];
  if (entries.length < 2 || entries.length > MAX_LABELS) {
    check.problem('labels', `must be 2 to ${MAX_LABELS} label names, or an object of label name to description`);
    return [];
  }
  const labels: Label[] = [];
  entries.forEach(([label, description], index) => {
    const field = Array.isArray(value) ? `labels[${index}]` : `labels.${label}`;
    if (typeof description !== 'string' || description.trim() === '' || description.length > 1000 || label.trim() === '') {
      check.problem(field, 'must be a non-empty string of at most 1000 characters');
    } else {
      labels.push({ label, description });
    }
  });
  if (new Set(labels.map((l) => l.label)).size !== labels.length) check.problem('labels', 'names a label twice');
  return labels;
}

/** `inference` params: pure, so the API checks submissions with it without loading any model. */
export const inferenceTask: TaskSpec<InferenceParams> = {
  taskType: 'inference',
  description:
    'Sentence embeddings with all-MiniLM-L6-v2 (int8 ONNX): mode classify (default; zero-shot labels, sentiment by default), embed or similarity, over text, texts/inputs or an input artifact.',

  validate(params: unknown): InferenceParams {
    const check = new ParamsChecker('inference', params, ['mode', 'text', 'texts', 'inputs', 'input', 'query', 'labels']);
    const mode = check.choice('mode', INFERENCE_MODES, 'classify');
    const lengths = { minLength: 1, maxLength: MAX_TEXT_CHARS };
    const text = check.string('text', lengths);
    const texts = check.stringArray('texts', { ...lengths, minItems: 1, maxItems: MAX_INLINE_TEXTS });
    const inputs = check.stringArray('inputs', { ...lengths, minItems: 1, maxItems: MAX_INLINE_TEXTS });
    const input = check.artifactRef('input');
    const given = (['text', 'texts', 'inputs', 'input'] as const).filter((key) => check.has(key));
    if (given.length === 0) check.problem('text', 'is required (or give texts, inputs or input)');
    if (given.length > 1) check.problem('params', `give one of text, texts, inputs and input, not ${given.join(' and ')}`);
    const query = check.string('query', lengths);
    if (mode === 'similarity' && !check.has('query')) check.problem('query', 'is required in mode similarity');
    if (mode !== 'similarity' && check.has('query')) check.problem('query', 'is only for mode similarity');
    const labels = mode === 'classify' ? parseLabels(check) : [];
    if (mode !== 'classify' && check.has('labels')) check.problem('labels', 'is only for mode classify');
    const inline = texts ?? inputs ?? (text === undefined ? undefined : [text]);
    return check.result({ mode, ...(inline ? { texts: inline } : {}), ...(input ? { input } : {}), ...(query ? { query } : {}), labels });
  },
};

/** Texts of an input artifact: a JSON array of strings, or UTF-8 text with one text per non-empty line. */
export async function readTexts(artifact: LocalArtifact): Promise<string[]> {
  const bad = (problem: string): InvalidParamsError =>
    new InvalidParamsError(`invalid params for inference: params.input ${problem}`, [{ field: 'params.input', problem }]);
  if (artifact.sizeBytes > MAX_ARTIFACT_BYTES) throw bad(`is larger than ${MAX_ARTIFACT_BYTES} bytes`);
  const content = (await readFile(artifact.path, 'utf8')).replace(/^\uFEFF/, '');
  let texts: unknown[];
  if (artifact.contentType.includes('json') || content.trimStart().startsWith('[')) {
    try {
      texts = JSON.parse(content) as unknown[];
    } catch {
      throw bad('is not valid JSON');
    }
    if (!Array.isArray(texts)) throw bad('must be a JSON array of strings');
  } else {
    texts = content.split(/\r?\n/).filter((line) => line.trim() !== '');
  }
  if (texts.length === 0 || texts.length > MAX_ARTIFACT_TEXTS) throw bad(`must hold 1 to ${MAX_ARTIFACT_TEXTS} texts`);
  texts.forEach((text, index) => {
    if (typeof text !== 'string' || text.trim() === '' || text.length > MAX_TEXT_CHARS) {
      throw bad(`text ${index} must be a non-empty string of at most ${MAX_TEXT_CHARS} characters`);
    }
  });
  return texts as string[];
}

/** Embeds texts in chunks, heartbeating and checking for cancellation between them. */
async function embedAll(models: ModelHost, texts: readonly string[], context: RunContext): Promise<Embeddings> {
  let all: Embeddings | undefined;
  for (let start = 0; start < texts.length; start += CHUNK) {
    if (context.signal.aborted) throw context.signal.reason;
    const part = await models.embed(texts.slice(start, start + CHUNK));
    context.heartbeat({ embedded: Math.min(start + CHUNK, texts.length), of: texts.length });
    all = all
      ? {
          ...all,
          vectors: [...all.vectors, ...part.vectors],
          tokens: [...all.tokens, ...part.tokens],
          truncated: [...all.truncated, ...part.truncated],
          cache: all.cache === 'cold' ? 'cold' : part.cache,
          batchSize: Math.max(all.batchSize, part.batchSize),
          batchRequests: part.batchSize > all.batchSize ? part.batchRequests : all.batchRequests,
        }
      : part;
  }
  return all as Embeddings;
}

/** `inference` on a node: MiniLM sentence embeddings from the node's model host (warm pool, batching). */
export function createInferenceRunner(models: ModelHost): Runner<InferenceParams, InferenceResult> {
  return {
    ...inferenceTask,
    async run(params: InferenceParams, context: RunContext): Promise<InferenceResult> {
      const texts = params.texts ?? (await readTexts(await context.artifacts.open(params.input as string, context.signal)));
      const embedded = await embedAll(models, params.query === undefined ? texts : [params.query, ...texts], context);
      const vectors = params.query === undefined ? embedded.vectors : embedded.vectors.slice(1);
      const common = {
        model: embedded.model,
        execution_provider: embedded.executionProvider,
        cache: embedded.cache,
        batch_size: embedded.batchSize,
        batch_requests: embedded.batchRequests,
        embedding_dim: vectors[0].length,
        texts: texts.length,
        tokens: embedded.tokens.reduce((sum, n) => sum + n, 0),
        truncated: embedded.truncated.filter(Boolean).length,
      };
      if (params.mode === 'embed') {
        return { ...common, mode: 'embed', embeddings: vectors.map((v) => Array.from(v, round)) };
      }
      if (params.mode === 'similarity') {
        const query = embedded.vectors[0];
        const ranking = vectors.map((v, index) => ({ index, score: round(dot(query, v)) })).sort((a, b) => b.score - a.score || a.index - b.index);
        return { ...common, mode: 'similarity', ranking };
      }
      const labelVectors = await models.embedLabels(params.labels.map((l) => l.description));
      const predictions = vectors.map((v) => {
        // Softmax over the scaled cosine similarities to each label's description.
        const logits = labelVectors.map((l) => dot(v, l) * LABEL_SCALE);
        const top = Math.max(...logits);
        const weights = logits.map((x) => Math.exp(x - top));
        const total = weights.reduce((sum, w) => sum + w, 0);
        const scores = Object.fromEntries(params.labels.map((l, i) => [l.label, round(weights[i] / total)]));
        const best = logits.indexOf(top);
        return { label: params.labels[best].label, score: scores[params.labels[best].label], scores };
      });
      return { ...common, mode: 'classify', predictions };
    },
  };
}
