import type { Tokenizer } from '@huggingface/tokenizers';
import type { InferenceSession } from 'onnxruntime-node';
import type { ModelConfig, OnnxExecutionProvider } from '@mlis/config';
import { Batcher } from './batcher';
import { ModelLoadError } from './model-load-error';
import { ModelPool, type CacheState, type Loaded } from './model-pool';
import { openSession, type OpenedSession } from './onnx-session';
import { embedEncoded, encodeText, loadTokenizer, modelPath, sentenceModelBytes, SENTENCE_MODEL, type Encoded } from './sentence-embedder';

/** How a request ran: on which provider, whether its model was already loaded, in what batch. */
export interface RunReport {
  executionProvider: OnnxExecutionProvider;
  cache: CacheState;
}

export interface Embeddings extends RunReport {
  model: string;
  /** Unit-length 384-d vectors, one per text. */
  vectors: Float32Array[];
  /** Word pieces per text, [CLS] and [SEP] included, after truncation. */
  tokens: number[];
  truncated: boolean[];
  /** Texts in the largest model run this request was part of, and how many requests shared that run. */
  batchSize: number;
  batchRequests: number;
}

/** A file the node holds for a model it was asked to run (an uploaded artifact). */
export interface ModelFile {
  path: string;
  sha256: string;
  sizeBytes: number;
}

// Label descriptions of classify requests repeat; their vectors are kept up to this many.
const MAX_CACHED_LABELS = 1024;

/**
 * A node's models: the warm pool of loaded sessions (LRU by bytes), the batcher that merges concurrent
 * `inference` requests into one model run, and the execution provider choice. Node-process state, built once
 * per worker; the API never builds one (it only validates params).
 */
export class ModelHost {
  private readonly pool: ModelPool<OpenedSession>;
  private readonly batcher: Batcher<Encoded, Float32Array, RunReport>;
  private tokenizer?: Promise<Tokenizer>;
  private readonly labelVectors = new Map<string, Float32Array>();

  constructor(private readonly config: ModelConfig) {
    this.pool = new ModelPool(config.cacheBytes);
    this.batcher = new Batcher({ maxSize: config.batchMaxSize, maxWaitMs: config.batchMaxWaitMs });
  }

  /** Sentence embeddings of texts with the node's MiniLM; batched with other requests arriving together. */
  async embed(texts: readonly string[]): Promise<Embeddings> {
    const tokenizer = await this.loadTokenizer();
    const encoded = texts.map((text) => encodeText(tokenizer, text));
    const { outputs, batchSize, batchRequests, runs } = await this.batcher.submit('sentence', encoded, (batch) =>
      this.pool.use(
        `sentence:${this.config.modelDir}`,
        () => this.loadSentenceModel(),
        async ({ session, executionProvider }, cache) => ({ outputs: await embedEncoded(session, batch), report: { executionProvider, cache } }),
      ),
    );
    return {
      model: SENTENCE_MODEL,
      vectors: outputs,
      tokens: encoded.map((e) => e.ids.length),
      truncated: encoded.map((e) => e.truncated),
      batchSize,
      batchRequests,
      executionProvider: runs[0].executionProvider,
      cache: runs.some((run) => run.cache === 'cold') ? 'cold' : 'warm',
    };
  }

  /** Embeddings of label descriptions, kept across requests (classification asks for the same ones again). */
  async embedLabels(descriptions: readonly string[]): Promise<Float32Array[]> {
    const vectors = new Map<string, Float32Array>();
    for (const d of descriptions) {
      const known = this.labelVectors.get(d);
      if (known) vectors.set(d, known);
    }
    const missing = [...new Set(descriptions.filter((d) => !vectors.has(d)))];
    if (missing.length > 0) {
      const embedded = await this.embed(missing);
      if (this.labelVectors.size + missing.length > MAX_CACHED_LABELS) this.labelVectors.clear();
      missing.forEach((description, i) => {
        vectors.set(description, embedded.vectors[i]);
        this.labelVectors.set(description, embedded.vectors[i]);
      });
    }
    return descriptions.map((d) => vectors.get(d) as Float32Array);
  }

  /** Runs fn with a session on a user's model file, from the warm pool when its sha256 was loaded before. */
  async withModelFile<R>(file: ModelFile, fn: (session: InferenceSession) => Promise<R>): Promise<{ value: R } & RunReport> {
    return this.pool.use(
      `file:${file.sha256}`,
      async () => {
        const opened = await this.open(file.path).catch((error: unknown) => {
          throw new ModelLoadError(error instanceof Error ? error.message : String(error));
        });
        return this.loaded(opened, file.sizeBytes);
      },
      async ({ session, executionProvider }, cache) => ({ value: await fn(session), executionProvider, cache }),
    );
  }

  /** Keys of the loaded models, least recently used first, and their bytes. */
  poolStats(): { keys: string[]; bytes: number } {
    return this.pool.stats();
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private loadTokenizer(): Promise<Tokenizer> {
    this.tokenizer ??= loadTokenizer(this.config.modelDir).catch((error: unknown) => {
      this.tokenizer = undefined;
      throw new Error(`cannot load the MiniLM tokenizer from ${this.config.modelDir} (run scripts/install-model.sh): ${String(error)}`);
    });
    return this.tokenizer;
  }

  private async loadSentenceModel(): Promise<Loaded<OpenedSession>> {
    const dir = this.config.modelDir;
    const bytes = await sentenceModelBytes(dir).catch((error: unknown) => {
      throw new Error(`no MiniLM model in ${dir} (run scripts/install-model.sh): ${String(error)}`);
    });
    return this.loaded(await this.open(modelPath(dir)), bytes);
  }

  private open(path: string): Promise<OpenedSession> {
    return openSession(path, { providers: this.config.onnxProviders, intraOpThreads: this.config.intraOpThreads });
  }

  private loaded(opened: OpenedSession, bytes: number): Loaded<OpenedSession> {
    return { value: opened, bytes, release: () => opened.session.release() };
  }
}
