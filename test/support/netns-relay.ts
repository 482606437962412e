import { mkdirSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

// Carries a node's TCP connections out of its network namespace (scripts/stack.sh, MLIS_STACK_NETNS): the
// servers listen on the host's 127.0.0.1 only, and a pathname Unix socket is reachable from any namespace.
//
//   netns-relay host DIR PORT...     (host namespace) DIR/PORT.sock -> 127.0.0.1:PORT
//   netns-relay inside DIR PORT...   (node's namespace) 127.0.0.1:PORT -> DIR/PORT.sock
//
// The inside relay is the node's only way out. SIGUSR1 cuts it: every open connection is dropped and the ports
// refuse new ones (the node is partitioned from Temporal and the API); SIGUSR2 heals it.

export type RelayMode = 'host' | 'inside';

export interface Relay {
  /** Drops every connection and stops listening: nothing gets through until heal. */
  cut(): Promise<void>;
  heal(): Promise<void>;
  close(): Promise<void>;
  readonly isCut: boolean;
}

export function socketPath(dir: string, port: number): string {
  return join(dir, `${port}.sock`);
}

/** Relays each port; resolves once every listener is up. `listenHost`: where the inside relay listens. */
export async function startRelay(mode: RelayMode, dir: string, ports: number[], listenHost = '127.0.0.1'): Promise<Relay> {
  const open = new Set<Socket>();
  let cut = false;

  const pipe = (client: Socket, upstream: Socket): void => {
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      // Either end failing ends both: the peer sees the connection drop, as across a real link.
      socket.on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const servers = ports.map((port) =>
    createServer({ pauseOnConnect: true }, (client) => {
      const upstream = mode === 'host' ? connect(port, '127.0.0.1') : connect(socketPath(dir, port));
      pipe(client, upstream);
      client.resume();
    }),
  );

  const listen = (server: Server, port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      const listening = () => {
        server.off('error', reject);
        resolve();
      };
      if (mode === 'host') {
        rmSync(socketPath(dir, port), { force: true });
        server.listen(socketPath(dir, port), listening);
      } else {
        server.listen(port, listenHost, listening);
      }
    });
  const closeAll = async (): Promise<void> => {
    for (const socket of open) socket.destroy();
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
  };

  if (mode === 'host') mkdirSync(dir, { recursive: true });
  await Promise.all(servers.map((server, i) => listen(server, ports[i])));

  return {
    get isCut() {
      return cut;
    },
    async cut() {
      if (cut) return;
      cut = true;
      await closeAll();
    },
    async heal() {
      if (!cut) return;
      await Promise.all(servers.map((server, i) => listen(server, ports[i])));
      cut = false;
    },
    close: closeAll,
  };
}

async function main(): Promise<void> {
  const [mode, dir, ...rest] = process.argv.slice(2);
  const ports = rest.map(Number);
  if ((mode !== 'host' && mode !== 'inside') || !dir || ports.length === 0 || ports.some((port) => !Number.isInteger(port) || port <= 0)) {
    process.stderr.write('usage: netns-relay host|inside DIR PORT...\n');
    process.exit(2);
  }
  const relay = await startRelay(mode, dir, ports);
  const say = (line: string) => process.stdout.write(`${new Date().toISOString()} [netns-relay ${mode}] ${line}\n`);
  say(`relaying ports ${ports.join(', ')} via ${dir}`);
  // One change at a time, in the order the signals came.
  let change = Promise.resolve();
  const on = (signal: NodeJS.Signals, what: 'cut' | 'heal') =>
    process.on(signal, () => {
      change = change.then(async () => {
        await relay[what]();
        say(what === 'cut' ? 'cut: every connection dropped, new ones refused' : 'healed: relaying again');
      });
    });
  // While cut nothing else keeps the process alive; it ends only on SIGTERM or SIGINT.
  setInterval(() => undefined, 60_000);
  on('SIGUSR1', 'cut');
  on('SIGUSR2', 'heal');
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void relay.close().then(() => process.exit(0)));
}

if (require.main === module) void main();
