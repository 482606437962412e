import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ParamsChecker } from './params-checker';
import type { RunContext, Runner } from './runner';

export const INFERENCE_MODEL = 'mlis-bow-sentiment-v1';
export const EMBEDDING_DIM = 64;
const MAX_TEXT_CHARS = 10_000;
const MAX_INPUTS = 32;
/** How far back a negator ("not", "never", ...) flips the sentiment of a word. */
const NEGATION_WINDOW = 3;

export interface InferenceParams {
  inputs: string[];
}

export type SentimentLabel = 'POSITIVE' | 'NEGATIVE' | 'NEUTRAL';

export interface Prediction {
  label: SentimentLabel;
  /** Probability the model gives the label (0.5 for NEUTRAL: no sentiment evidence). */
  score: number;
  tokens: number;
  /** L2-normalised signed hashed bag-of-words vector of the input. */
  embedding: number[];
}

export interface InferenceResult {
  model: typeof INFERENCE_MODEL;
  predictions: Prediction[];
  embedding_dim: number;
  /** Tokens over all inputs. */
  tokens: number;
}

// The model's weights: a fixed lexicon linear model (logit = bias + sum of word weights).
const BIAS = 0;
const LEXICON: ReadonlyMap<string, number> = new Map([
  ['good', 1.0], ['great', 1.5], ['excellent', 2.0], ['amazing', 1.8], ['awesome', 1.8], ['love', 1.8],
  ['loved', 1.8], ['like', 0.7], ['liked', 0.8], ['happy', 1.2], ['fantastic', 1.8], ['wonderful', 1.8],
  ['best', 1.5], ['nice', 0.9], ['fast', 0.6], ['helpful', 1.0], ['perfect', 1.8], ['enjoy', 1.2],
  ['enjoyed', 1.2], ['recommend', 1.2], ['reliable', 1.0], ['easy', 0.7], ['beautiful', 1.4], ['fine', 0.4],
  ['bad', -1.2], ['terrible', -1.9], ['awful', -1.9], ['horrible', -1.9], ['hate', -1.8], ['hated', -1.8],
  ['worst', -2.0], ['poor', -1.2], ['slow', -0.7], ['broken', -1.4], ['useless', -1.6], ['disappointing', -1.5],
  ['disappointed', -1.5], ['sad', -1.0], ['angry', -1.2], ['fail', -1.1], ['failed', -1.1], ['fails', -1.1],
  ['crash', -1.2], ['crashed', -1.2], ['boring', -1.0], ['wrong', -1.0], ['buggy', -1.1], ['hard', -0.5],
]);
const NEGATORS: ReadonlySet<string> = new Set([
  'not', 'no', 'never', 'nothing', 'hardly', "don't", "doesn't", "didn't", "isn't", "wasn't", "aren't",
  "weren't", "can't", "cannot", "won't", "wouldn't", "shouldn't",
]);

/** Lower-cased words and numbers; apostrophes inside words are kept so "don't" stays one token. */
export function tokenize(text: string): string[] {
  return text.normalize('NFKC').toLowerCase().replace(/\u2019/g, "'").match(/[\p{L}\p{N}]+(?:'[\p{L}]+)*/gu) ?? [];
}

/** 32-bit FNV-1a over UTF-16 code units: stable across runs, platforms and Node versions. */
function fnv1a(token: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < token.length; i += 1) {
    hash ^= token.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** Signed feature hashing (one bucket, one sign bit per token), then L2 normalisation. */
export function embed(tokens: readonly string[]): number[] {
  const vector = new Array<number>(EMBEDDING_DIM).fill(0);
  for (const token of tokens) {
    const hash = fnv1a(token);
    vector[hash % EMBEDDING_DIM] += (hash >>> 31) === 1 ? -1 : 1;
  }
  const norm = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
  return vector.map((x) => (norm === 0 ? 0 : round(x / norm)));
}

export function classify(tokens: readonly string[]): { label: SentimentLabel; score: number } {
  let logit = BIAS;
  let evidence = 0;
  tokens.forEach((token, index) => {
    const weight = LEXICON.get(token);
    if (weight === undefined) return;
    const negated = tokens.slice(Math.max(0, index - NEGATION_WINDOW), index).some((t) => NEGATORS.has(t));
    logit += negated ? -weight : weight;
    evidence += 1;
  });
  if (evidence === 0 || logit === 0) return { label: 'NEUTRAL', score: 0.5 };
  const positive = 1 / (1 + Math.exp(-logit));
  return logit > 0 ? { label: 'POSITIVE', score: round(positive) } : { label: 'NEGATIVE', score: round(1 - positive) };
}

/** `inference`: a small, real, CPU-only sentiment model over text; deterministic for the same input. */
export const inferenceRunner: Runner<InferenceParams, InferenceResult> = {
  taskType: 'inference',
  description: `Sentiment (${INFERENCE_MODEL}) and a ${EMBEDDING_DIM}-dim hashed bag-of-words embedding of params.text or params.inputs.`,
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      text: { type: 'string', minLength: 1, maxLength: MAX_TEXT_CHARS },
      inputs: { type: 'array', minItems: 1, maxItems: MAX_INPUTS, items: { type: 'string', minLength: 1, maxLength: MAX_TEXT_CHARS } },
    },
    // Exactly one of them.
    oneOf: [{ required: ['text'] }, { required: ['inputs'] }],
  },

  validate(params: unknown): InferenceParams {
    const check = new ParamsChecker('inference', params, ['text', 'inputs']);
    const lengths = { minLength: 1, maxLength: MAX_TEXT_CHARS };
    const text = check.string('text', lengths);
    const inputs = check.stringArray('inputs', { ...lengths, minItems: 1, maxItems: MAX_INPUTS });
    if (check.has('text') && check.has('inputs')) check.problem('params', 'give either text or inputs, not both');
    if (!check.has('text') && !check.has('inputs')) check.problem('text', 'is required (or give inputs)');
    return check.result({ inputs: inputs ?? (text === undefined ? [] : [text]) });
  },

  async run({ inputs }: InferenceParams, context: RunContext): Promise<InferenceResult> {
    const predictions: Prediction[] = [];
    for (const [index, input] of inputs.entries()) {
      if (context.signal.aborted) throw context.signal.reason;
      const tokens = tokenize(input);
      predictions.push({ ...classify(tokens), tokens: tokens.length, embedding: embed(tokens) });
      context.heartbeat({ done: index + 1, of: inputs.length });
      // Let heartbeats and cancellation through between inputs.
      await yieldToEventLoop();
    }
    return {
      model: INFERENCE_MODEL,
      predictions,
      embedding_dim: EMBEDDING_DIM,
      tokens: predictions.reduce((sum, p) => sum + p.tokens, 0),
    };
  },
};
