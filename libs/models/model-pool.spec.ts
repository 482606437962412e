import { ModelPool, type Loaded } from './model-pool';

/** A loader whose models record their own release. */
function loader(bytes: number, released: string[], name: string): () => Promise<Loaded<string>> {
  return async () => ({ value: name, bytes, release: async () => void released.push(name) });
}

describe(ModelPool.name, () => {
  it('loads cold once, then serves warm, most recently used last', async () => {
    const released: string[] = [];
    const pool = new ModelPool<string>(100);
    const load = jest.fn(loader(10, released, 'a'));
    await expect(pool.use('a', load, async (value, cache) => `${value} ${cache}`)).resolves.toBe('a cold');
    await expect(pool.use('a', load, async (value, cache) => `${value} ${cache}`)).resolves.toBe('a warm');
    expect(load).toHaveBeenCalledTimes(1);
    expect(pool.stats()).toEqual({ keys: ['a'], bytes: 10 });
  });

  it('evicts least recently used models once their bytes exceed the budget, and releases them', async () => {
    const released: string[] = [];
    const pool = new ModelPool<string>(100);
    const use = (key: string, bytes: number) => pool.use(key, loader(bytes, released, key), async (_v, cache) => cache);
    await use('a', 40);
    await use('b', 40);
    await use('a', 40); // a is now the most recently used
    await expect(use('c', 40)).resolves.toBe('cold');
    expect(pool.stats()).toEqual({ keys: ['a', 'c'], bytes: 80 });
    expect(released).toEqual(['b']);
    await expect(use('b', 40)).resolves.toBe('cold');
    expect(released).toEqual(['b', 'a']);
  });

  it('releases an evicted model only after its last user is done', async () => {
    const released: string[] = [];
    const pool = new ModelPool<string>(50);
    let finish!: () => void;
    const running = pool.use('a', loader(40, released, 'a'), () => new Promise<void>((resolve) => (finish = resolve)));
    await new Promise((resolve) => setImmediate(resolve));
    await pool.use('b', loader(40, released, 'b'), async () => undefined);
    expect(pool.stats().keys).toEqual(['b']);
    expect(released).toEqual([]);
    finish();
    await running;
    expect(released).toEqual(['a']);
  });

  it('loads a model larger than the whole budget, uses it and drops it', async () => {
    const released: string[] = [];
    const pool = new ModelPool<string>(10);
    await expect(pool.use('big', loader(11, released, 'big'), async (value) => value)).resolves.toBe('big');
    expect(released).toEqual(['big']);
    expect(pool.stats()).toEqual({ keys: [], bytes: 0 });
  });

  it('shares one load between concurrent first requests and does not cache a failed load', async () => {
    const pool = new ModelPool<string>(100);
    const load = jest.fn(loader(10, [], 'a'));
    const caches = await Promise.all([1, 2, 3].map(() => pool.use('a', load, async (_v, cache) => cache)));
    expect(load).toHaveBeenCalledTimes(1);
    // All three waited for the load: all three were cold.
    expect(caches).toEqual(['cold', 'cold', 'cold']);
    await expect(pool.use('a', load, async (_v, cache) => cache)).resolves.toBe('warm');

    const failing = jest.fn(async (): Promise<Loaded<string>> => Promise.reject(new Error('no such file')));
    await expect(pool.use('x', failing, async () => undefined)).rejects.toThrow('no such file');
    await expect(pool.use('x', failing, async () => undefined)).rejects.toThrow('no such file');
    expect(failing).toHaveBeenCalledTimes(2);
    expect(pool.stats().keys).toEqual(['a']);
  });
});
