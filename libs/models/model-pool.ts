import { modelCacheLookups } from '@mlis/metrics';

export type CacheState = 'cold' | 'warm';

/** What a loader hands the pool: the loaded value, what it costs in the budget, and how to free it. */
export interface Loaded<T> {
  value: T;
  bytes: number;
  release(): Promise<void>;
}

interface Entry<T> {
  loading: Promise<Loaded<T>>;
  bytes: number;
  /** Loaded: a request that finds it so is warm; one that waits for the load is cold too. */
  ready: boolean;
  /** Runs using the value now; an evicted entry is released when the last one ends. */
  users: number;
  evicted: boolean;
}

/**
 * Node-process warm pool: loaded models by key, least recently used first out once their bytes exceed the
 * budget. An evicted model still in use is released after its last user; one larger than the whole budget
 * is loaded, used and dropped.
 */
export class ModelPool<T> {
  // A Map iterates in insertion order: re-inserting on every use keeps the least recently used first.
  private readonly entries = new Map<string, Entry<T>>();
  private bytes = 0;

  constructor(readonly capacityBytes: number) {}

  /** Runs fn with the model under key, loading it first when it is not in the pool (cold) . */
  async use<R>(key: string, load: () => Promise<Loaded<T>>, fn: (value: T, cache: CacheState) => Promise<R>): Promise<R> {
    let entry = this.entries.get(key);
    const cache: CacheState = entry?.ready ? 'warm' : 'cold';
    modelCacheLookups.inc({ result: cache === 'warm' ? 'hit' : 'miss' });
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    } else {
      entry = { loading: load(), bytes: 0, ready: false, users: 0, evicted: false };
      this.entries.set(key, entry);
      const created = entry;
      created.loading.then(
        (loaded) => {
          created.bytes = loaded.bytes;
          created.ready = true;
          this.bytes += loaded.bytes;
          this.evictOverBudget();
        },
        // A failed load is not cached: the next request tries again.
        () => {
          if (this.entries.get(key) === created) this.entries.delete(key);
        },
      );
    }
    entry.users += 1;
    try {
      const loaded = await entry.loading;
      return await fn(loaded.value, cache);
    } finally {
      entry.users -= 1;
      if (entry.evicted && entry.users === 0) await this.release(entry);
    }
  }

  /** Keys from least to most recently used, and the bytes they hold. */
  stats(): { keys: string[]; bytes: number } {
    return { keys: [...this.entries.keys()], bytes: this.bytes };
  }

  /** Releases every model (node shutdown). */
  async close(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    this.bytes = 0;
    await Promise.all(entries.map((entry) => this.release(entry)));
  }

  private evictOverBudget(): void {
    for (const [key, entry] of this.entries) {
      if (this.bytes <= this.capacityBytes) return;
      // Still loading: its size is not counted yet.
      if (!entry.ready) continue;
      this.entries.delete(key);
      this.bytes -= entry.bytes;
      entry.evicted = true;
      if (entry.users === 0) void this.release(entry);
    }
  }

  private async release(entry: Entry<T>): Promise<void> {
    const loaded = await entry.loading.catch(() => undefined);
    await loaded?.release().catch(() => undefined);
  }
}
