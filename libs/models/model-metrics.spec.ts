import { modelBatchSize, modelCacheLookups } from '@mlis/metrics';
import { Batcher } from './batcher';
import { ModelPool } from './model-pool';

async function lookups(result: 'hit' | 'miss'): Promise<number> {
  return (await modelCacheLookups.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
}

async function batches(): Promise<{ count: number; sum: number }> {
  const { values } = await modelBatchSize.get();
  const of = (suffix: string) => values.find((v) => v.metricName === `mlis_model_batch_size_${suffix}`)?.value ?? 0;
  return { count: of('count'), sum: of('sum') };
}

describe('model metrics', () => {
  it('counts a cold load as a cache miss and a warm use as a hit', async () => {
    const [hits, misses] = [await lookups('hit'), await lookups('miss')];
    const pool = new ModelPool<string>(1024);
    const load = async () => ({ value: 'model', bytes: 10, release: async () => undefined });
    await pool.use('m', load, async () => undefined);
    await pool.use('m', load, async () => undefined);
    expect([await lookups('hit'), await lookups('miss')]).toEqual([hits + 1, misses + 1]);
  });

  it('observes the size of every batch it runs', async () => {
    const before = await batches();
    const batcher = new Batcher<number, number, null>({ maxSize: 3, maxWaitMs: 0 });
    await batcher.submit('m', [1, 2, 3, 4], async (items) => ({ outputs: items, report: null }));
    const after = await batches();
    expect(after.count - before.count).toBe(2);
    expect(after.sum - before.sum).toBe(4);
  });
});
