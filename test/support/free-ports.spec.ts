import { createServer, type AddressInfo, type Server } from 'node:net';
import { acceptsConnections, freePortBlock } from './free-ports';

async function listen(port = 0): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('free ports', () => {
  it('tells a port something listens on from one nothing does', async () => {
    const server = await listen();
    const { port } = server.address() as AddressInfo;
    expect(await acceptsConnections(port)).toBe(true);
    await close(server);
    expect(await acceptsConnections(port)).toBe(false);
  });

  it('keeps a free block where it starts and moves past a block with one port held', async () => {
    const server = await listen();
    const held = (server.address() as AddressInfo).port;
    try {
      // The held port is the second of the first block: the whole block moves.
      const moved = await freePortBlock(held - 1, 3);
      expect(moved).toBeGreaterThanOrEqual(held + 2);
      expect((moved - (held - 1)) % 3).toBe(0);
      for (const port of [moved, moved + 1, moved + 2]) expect({ port, accepts: await acceptsConnections(port) }).toEqual({ port, accepts: false });
      // Nothing on that block: asked from there, it stays.
      expect(await freePortBlock(moved, 3)).toBe(moved);
    } finally {
      await close(server);
    }
  });

  it('says so when every block is taken', async () => {
    const server = await listen();
    const held = (server.address() as AddressInfo).port;
    try {
      await expect(freePortBlock(held, 1, 1)).rejects.toThrow(`no free block of 1 ports among the 1 from ${held}`);
    } finally {
      await close(server);
    }
  });
});
