import { modelBatchSize } from '@mlis/metrics';

export interface BatchOptions {
  /** Most items in one run. */
  maxSize: number;
  /** How long the first waiting item holds its run open for more; 0: each request runs alone, at once. */
  maxWaitMs: number;
}

/** How the runs that carried one request's items were made up. */
export interface BatchReport<X> {
  /** Items in the largest run this request took part in. */
  batchSize: number;
  /** Distinct requests in that run. */
  batchRequests: number;
  /** What the run function reported, per run, in order. */
  runs: X[];
}

/** One run over items (of one or more requests) returns one output per item, plus what it wants to report. */
export type RunBatch<I, O, X> = (items: I[]) => Promise<{ outputs: O[]; report: X }>;

interface Pending<I, O, X> {
  item: I;
  request: Request<O, X>;
  index: number;
}

interface Request<O, X> {
  outputs: O[];
  left: number;
  batchSize: number;
  batchRequests: number;
  runs: X[];
  resolve(result: { outputs: O[] } & BatchReport<X>): void;
  reject(error: unknown): void;
  failed: boolean;
}

/**
 * Dynamic batching per key (one model): items of requests that arrive within maxWaitMs of the first waiting
 * one run together, up to maxSize per run; a full batch runs at once without waiting.
 */
export class Batcher<I, O, X> {
  private readonly queues = new Map<string, { pending: Pending<I, O, X>[]; timer?: NodeJS.Timeout }>();

  constructor(private readonly options: BatchOptions) {}

  /** `run` must be the same model run for every submission under one key: a batch runs with the one that flushes it. */
  submit(key: string, items: readonly I[], run: RunBatch<I, O, X>): Promise<{ outputs: O[] } & BatchReport<X>> {
    if (items.length === 0) return Promise.resolve({ outputs: [], batchSize: 0, batchRequests: 0, runs: [] });
    return new Promise((resolve, reject) => {
      const request: Request<O, X> = {
        outputs: new Array<O>(items.length),
        left: items.length,
        batchSize: 0,
        batchRequests: 0,
        runs: [],
        resolve,
        reject,
        failed: false,
      };
      let queue = this.queues.get(key);
      if (!queue) {
        queue = { pending: [] };
        this.queues.set(key, queue);
      }
      items.forEach((item, index) => queue.pending.push({ item, request, index }));
      if (this.options.maxWaitMs === 0) {
        this.flush(key, run, true);
        return;
      }
      // Full runs go now; the rest waits for company at most maxWaitMs after the first of them arrived.
      this.flush(key, run, false);
      if (queue.pending.length > 0 && !queue.timer) {
        queue.timer = setTimeout(() => {
          queue.timer = undefined;
          this.flush(key, run, true);
        }, this.options.maxWaitMs);
      }
    });
  }

  /** Starts a run for every full batch, and for the remainder too when `all`. */
  private flush(key: string, run: RunBatch<I, O, X>, all: boolean): void {
    const queue = this.queues.get(key);
    if (!queue) return;
    while (queue.pending.length >= this.options.maxSize || (all && queue.pending.length > 0)) {
      void this.runOne(queue.pending.splice(0, this.options.maxSize), run);
    }
    if (queue.pending.length === 0) {
      if (queue.timer) clearTimeout(queue.timer);
      this.queues.delete(key);
    }
  }

  private async runOne(batch: Pending<I, O, X>[], run: RunBatch<I, O, X>): Promise<void> {
    const requests = new Set(batch.map((p) => p.request));
    modelBatchSize.observe(batch.length);
    let result: { outputs: O[]; report: X };
    try {
      result = await run(batch.map((p) => p.item));
    } catch (error) {
      for (const request of requests) {
        if (!request.failed) request.reject(error);
        request.failed = true;
      }
      return;
    }
    for (const request of requests) {
      request.runs.push(result.report);
      if (batch.length > request.batchSize) {
        request.batchSize = batch.length;
        request.batchRequests = requests.size;
      }
    }
    batch.forEach((pending, i) => {
      pending.request.outputs[pending.index] = result.outputs[i];
      pending.request.left -= 1;
    });
    for (const request of requests) {
      if (request.left === 0 && !request.failed) {
        request.resolve({ outputs: request.outputs, batchSize: request.batchSize, batchRequests: request.batchRequests, runs: request.runs });
      }
    }
  }
}
