import { connect } from 'node:net';

/** Whether something accepts connections on 127.0.0.1:port. */
export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: 1_000 });
    const done = (accepted: boolean) => {
      socket.destroy();
      resolve(accepted);
    };
    socket.once('connect', () => done(true));
    // A port that neither accepts nor refuses in a second is held by something that is not answering: not free.
    socket.once('timeout', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The first of `blocks` blocks of `span` ports from `from` (from, from + span, ...) on which no port accepts connections. */
export async function freePortBlock(from: number, span: number, blocks = 100): Promise<number> {
  for (let port = from; port < from + blocks * span; port += span) {
    const taken = await Promise.all(Array.from({ length: span }, (_, offset) => acceptsConnections(port + offset)));
    if (!taken.includes(true)) return port;
  }
  throw new Error(`no free block of ${span} ports among the ${blocks} from ${from}`);
}
