import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { testServerPath } from './time-skipping';

/** The local addresses (hex, as /proc/net/tcp* writes them) listening on `port`. */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      // Field 3 is the socket state: 0A is LISTEN.
      .filter((fields) => fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '0A')
      .map((fields) => fields[1].slice(0, -5)),
  );
}

const LOOPBACK = new Set(['0100007F', '0000000000000000FFFF00000100007F', '00000000000000000000000001000000']);

describe('temporal/test-server.sh', () => {
  it('listens on the loopback address only', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const server = spawn(testServerPath(), [String(port), '--enable-time-skipping'], { stdio: 'ignore' });
    try {
      let found: string[] = [];
      for (const deadline = Date.now() + 20_000; found.length === 0 && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        found = listeners(port);
      }
      expect(found.length).toBeGreaterThan(0);
      for (const address of found) expect({ address, loopback: LOOPBACK.has(address) }).toEqual({ address, loopback: true });
    } finally {
      server.kill('SIGKILL');
    }
  }, 30_000);
});
