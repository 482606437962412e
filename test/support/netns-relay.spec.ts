import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRelay, type Relay } from './netns-relay';
import { waitFor } from './wait-for';

// Without a network namespace: the inside relay listens on 127.0.0.2 (loopback too), the upstream on 127.0.0.1,
// the same port on both, as in a namespace.

/** Connects, sends `line`, and resolves with what came back before the connection closed or 2 s passed. */
function roundTrip(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.2');
    let received = '';
    socket.on('connect', () => socket.write(line));
    socket.on('data', (chunk) => {
      received += chunk.toString();
      if (received.length >= line.length) socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
  });
}

describe('netns relay', () => {
  let echo: Server;
  let port: number;
  let dir: string;
  let host: Relay;
  let inside: Relay;

  beforeAll(async () => {
    echo = createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    port = (echo.address() as AddressInfo).port;
    dir = mkdtempSync(join(tmpdir(), 'mlis-relay-'));
    host = await startRelay('host', dir, [port]);
    inside = await startRelay('inside', dir, [port], '127.0.0.2');
  });

  afterAll(async () => {
    await inside.close();
    await host.close();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries a connection to the upstream port through the Unix socket, both ways', async () => {
    expect(await roundTrip(port, 'hello through the relay')).toBe('hello through the relay');
  });

  it('cut drops open connections and refuses new ones; heal relays again', async () => {
    const open: Socket = connect(port, '127.0.0.2');
    const closed = new Promise<void>((resolve) => open.on('close', () => resolve()));
    open.on('error', () => undefined);
    await new Promise<void>((resolve) => open.on('connect', () => resolve()));
    // Connected through: the echo answers before the cut.
    open.write('x');
    await new Promise<void>((resolve) => open.once('data', () => resolve()));

    await inside.cut();
    expect(inside.isCut).toBe(true);
    await closed;
    await expect(roundTrip(port, 'during the cut')).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    await inside.heal();
    expect(await waitFor(async () => (await roundTrip(port, 'after the heal')) === 'after the heal', { timeoutMs: 5_000, description: 'relay healed' })).toBe(true);
  });
});
