import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Tensor, type InferenceSession } from 'onnxruntime-node';

export const SENTENCE_MODEL = 'all-MiniLM-L6-v2 (int8 ONNX)';
export const SENTENCE_DIM = 384;
/** The model was trained on at most 256 word pieces (sentence-transformers' max_seq_length). */
export const MAX_TOKENS = 256;

export interface Encoded {
  ids: number[];
  /** The text was longer than MAX_TOKENS word pieces and was cut. */
  truncated: boolean;
}

/** Word pieces of one text with [CLS] … [SEP], cut to MAX_TOKENS keeping the final [SEP]. */
export function encodeText(tokenizer: Tokenizer, text: string): Encoded {
  const { ids } = tokenizer.encode(text);
  if (ids.length <= MAX_TOKENS) return { ids, truncated: false };
  return { ids: [...ids.slice(0, MAX_TOKENS - 1), ids[ids.length - 1]], truncated: true };
}

export async function loadTokenizer(modelDir: string): Promise<Tokenizer> {
  const json = JSON.parse(await readFile(join(modelDir, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  // The file pads every text to 128 and truncates at 128; padding is per batch here and truncation at 256, above.
  json.padding = null;
  json.truncation = null;
  return new Tokenizer(json, {});
}

export function modelPath(modelDir: string): string {
  return join(modelDir, 'model.onnx');
}

/** Bytes of the files a loaded sentence model holds: what it counts for in the warm pool. */
export async function sentenceModelBytes(modelDir: string): Promise<number> {
  const [model, tokenizer] = await Promise.all([stat(modelPath(modelDir)), stat(join(modelDir, 'tokenizer.json'))]);
  return model.size + tokenizer.size;
}

/**
 * One run of the model over texts already encoded: pads to the longest, then the sentence-transformers recipe,
 * mean of the token vectors under the attention mask and L2 normalisation.
 */
export async function embedEncoded(session: InferenceSession, batch: readonly Encoded[]): Promise<Float32Array[]> {
  const length = Math.max(...batch.map((e) => e.ids.length));
  const size = batch.length * length;
  const ids = new BigInt64Array(size);
  const mask = new BigInt64Array(size);
  batch.forEach((encoded, row) => {
    encoded.ids.forEach((id, column) => {
      ids[row * length + column] = BigInt(id);
      mask[row * length + column] = 1n;
    });
  });
  const dims = [batch.length, length];
  const output = await session.run({
    input_ids: new Tensor('int64', ids, dims),
    attention_mask: new Tensor('int64', mask, dims),
    token_type_ids: new Tensor('int64', new BigInt64Array(size), dims),
  });
  const hidden = output.last_hidden_state.data as Float32Array;
  return batch.map((encoded, row) => {
    const vector = new Float32Array(SENTENCE_DIM);
    const count = encoded.ids.length;
    for (let t = 0; t < count; t += 1) {
      const offset = (row * length + t) * SENTENCE_DIM;
      for (let d = 0; d < SENTENCE_DIM; d += 1) vector[d] += hidden[offset + d];
    }
    let norm = 0;
    for (let d = 0; d < SENTENCE_DIM; d += 1) {
      vector[d] /= count;
      norm += vector[d] * vector[d];
    }
    norm = Math.sqrt(norm) || 1;
    for (let d = 0; d < SENTENCE_DIM; d += 1) vector[d] /= norm;
    return vector;
  });
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i += 1) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / (Math.sqrt(na * nb) || 1);
}
