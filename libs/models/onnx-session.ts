import { InferenceSession } from 'onnxruntime-node';
import type { OnnxExecutionProvider } from '@mlis/config';

export interface SessionOptions {
  /** In order of preference; cpu is always the last resort. */
  providers: readonly OnnxExecutionProvider[];
  intraOpThreads: number;
}

export interface OpenedSession {
  session: InferenceSession;
  /** The provider the session runs on. */
  executionProvider: OnnxExecutionProvider;
}

/**
 * Opens an ONNX model on the preferred execution provider. onnxruntime does not fall back by itself: asking for
 * cuda where its provider library is missing throws, so that case retries on cpu; a model that cpu cannot open
 * either is a real error.
 */
export async function openSession(model: string | Uint8Array, options: SessionOptions): Promise<OpenedSession> {
  const create = (providers: OnnxExecutionProvider[]): Promise<InferenceSession> => {
    const settings: InferenceSession.SessionOptions = {
      executionProviders: providers,
      intraOpNumThreads: options.intraOpThreads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    };
    return typeof model === 'string' ? InferenceSession.create(model, settings) : InferenceSession.create(model, settings);
  };
  const preferred = options.providers.find((provider) => provider !== 'cpu');
  if (preferred) {
    try {
      return { session: await create([preferred, 'cpu']), executionProvider: preferred };
    } catch {
      // Missing provider library (or a model this provider cannot take): cpu below.
    }
  }
  return { session: await create(['cpu']), executionProvider: 'cpu' };
}
