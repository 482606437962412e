import { Batcher, type RunBatch } from './batcher';

/** A run function that doubles numbers and records each run's items. */
function doubling(runs: number[][]): RunBatch<number, number, string> {
  return async (items) => {
    runs.push(items);
    return { outputs: items.map((x) => x * 2), report: `run ${runs.length}` };
  };
}

describe(Batcher.name, () => {
  it('runs requests that arrive within the window as one batch, and says so to each', async () => {
    const runs: number[][] = [];
    const batcher = new Batcher<number, number, string>({ maxSize: 8, maxWaitMs: 20 });
    const results = await Promise.all([[1], [2, 3], [4]].map((items) => batcher.submit('m', items, doubling(runs))));
    expect(runs).toEqual([[1, 2, 3, 4]]);
    expect(results.map((r) => r.outputs)).toEqual([[2], [4, 6], [8]]);
    for (const result of results) expect(result).toMatchObject({ batchSize: 4, batchRequests: 3, runs: ['run 1'] });
  });

  it('runs a full batch at once and cuts larger arrivals into runs of max size', async () => {
    const runs: number[][] = [];
    // A window far longer than the test: only a full batch can make it run early.
    const batcher = new Batcher<number, number, string>({ maxSize: 2, maxWaitMs: 60_000 });
    const result = await batcher.submit('m', [1, 2, 3, 4], doubling(runs));
    expect(runs).toEqual([[1, 2], [3, 4]]);
    expect(result).toMatchObject({ outputs: [2, 4, 6, 8], batchSize: 2, batchRequests: 1 });
  });

  it('with max wait 0 runs every request alone, at once', async () => {
    const runs: number[][] = [];
    const batcher = new Batcher<number, number, string>({ maxSize: 8, maxWaitMs: 0 });
    const results = await Promise.all([[1], [2, 3], [4]].map((items) => batcher.submit('m', items, doubling(runs))));
    expect(runs).toEqual([[1], [2, 3], [4]]);
    expect(results.map((r) => [r.batchSize, r.batchRequests])).toEqual([[1, 1], [2, 1], [1, 1]]);
  });

  it('keeps models apart and fails every request of a failed run', async () => {
    const runs: number[][] = [];
    const batcher = new Batcher<number, number, string>({ maxSize: 8, maxWaitMs: 20 });
    const failing: RunBatch<number, number, string> = async () => Promise.reject(new Error('session lost'));
    const [a, b, c] = [batcher.submit('a', [1], failing), batcher.submit('a', [2], failing), batcher.submit('b', [3], doubling(runs))];
    await expect(a).rejects.toThrow('session lost');
    await expect(b).rejects.toThrow('session lost');
    await expect(c).resolves.toMatchObject({ outputs: [6], batchSize: 1 });
    expect(runs).toEqual([[3]]);
  });
});
