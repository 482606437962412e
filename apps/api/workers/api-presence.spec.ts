import type { AppConfig } from '@mlis/config';
import type { NodesRepository } from '@mlis/db';
import { loadConfig } from '@mlis/config';
import { ApiPresence } from './api-presence';

describe('ApiPresence', () => {
  const config: AppConfig = loadConfig({ MLIS_NODE_HEARTBEAT_SECONDS: '3', MLIS_NODE_DEAD_AFTER_SECONDS: '15' });

  afterEach(() => jest.useRealTimers());

  it('says this process is up at start and once a heartbeat interval, always as the same instance', async () => {
    jest.useFakeTimers();
    const writes: [string, number][] = [];
    const nodes = { recordApiInstance: async (id: string, heartbeatSeconds: number) => void writes.push([id, heartbeatSeconds]) };
    const presence = new ApiPresence(nodes as unknown as NodesRepository, config);
    await presence.onModuleInit();
    expect(writes).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(3_000 * 2);
    presence.onModuleDestroy();
    await jest.advanceTimersByTimeAsync(3_000 * 2);
    expect(writes).toHaveLength(3);
    expect(new Set(writes.map(([id]) => id)).size).toBe(1);
    expect(writes.map(([, heartbeatSeconds]) => heartbeatSeconds)).toEqual([3, 3, 3]);
  });

  it('starts, and keeps trying, while Postgres refuses the writes', async () => {
    jest.useFakeTimers();
    let attempts = 0;
    const nodes = {
      recordApiInstance: async () => {
        attempts += 1;
        if (attempts < 3) throw new Error('connect ECONNREFUSED');
      },
    };
    const presence = new ApiPresence(nodes as unknown as NodesRepository, config);
    await expect(presence.onModuleInit()).resolves.toBeUndefined();
    await jest.advanceTimersByTimeAsync(3_000 * 3);
    presence.onModuleDestroy();
    expect(attempts).toBe(4);
  });
});
