import { setMaxListeners } from 'node:events';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/**
 * The API's shutdown as its connections see it. It begins before the HTTP server stops (Nest calls
 * beforeApplicationShutdown first), and `server.close()` then waits for every open connection, so nothing may hold
 * one open:
 * - what waited on `onDrain` ends: long-polls answer with the job as it is and change streams end, instead of holding
 *   the process until their client leaves (a console left open held it for ever);
 * - every answer under way or to come closes its connection: one kept alive would hold close() for the keep-alive
 *   timeout (65 s), as Node closes only the connections idle at the moment close() is called;
 * - connections with no request under way (kept alive, or opened and never used) are closed at once.
 */
@Injectable()
export class Draining implements BeforeApplicationShutdown {
  private readonly controller = new AbortController();
  private readonly connections = new Set<Socket>();
  private readonly answering = new Set<Response>();
  private readonly logger = new Logger(Draining.name);

  constructor() {
    // One listener per open long-poll or stream.
    setMaxListeners(0, this.controller.signal);
  }

  private get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Calls `end` when draining begins (at once if it has begun), for as long as `res` is open. */
  onDrain(res: Response, end: () => void): void {
    if (this.signal.aborted) {
      end();
      return;
    }
    this.signal.addEventListener('abort', end, { once: true });
    res.once('close', () => this.signal.removeEventListener('abort', end));
  }

  /** Follows the server's connections, to close the unused ones when draining begins. */
  attach(server: Server): void {
    server.on('connection', (socket: Socket) => {
      if (this.signal.aborted) {
        socket.destroy();
        return;
      }
      this.connections.add(socket);
      socket.once('close', () => this.connections.delete(socket));
    });
  }

  /** Follows the answers under way, to close their connections after them once draining begins. */
  readonly middleware = (_req: Request, res: Response, next: NextFunction): void => {
    if (this.signal.aborted) {
      closeConnectionAfter(res);
    } else {
      this.answering.add(res);
      res.once('close', () => this.answering.delete(res));
    }
    next();
  };

  beforeApplicationShutdown(): void {
    this.controller.abort();
    const busy = new Set<Socket>();
    for (const res of this.answering) {
      busy.add(res.req.socket);
      closeConnectionAfter(res);
    }
    this.answering.clear();
    const idle = [...this.connections].filter((socket) => !busy.has(socket));
    for (const socket of idle) socket.destroy();
    this.logger.log({ msg: 'draining', answering: busy.size, idle_connections_closed: idle.length });
  }
}

function closeConnectionAfter(res: Response): void {
  if (!res.headersSent) {
    res.setHeader('Connection', 'close');
    return;
  }
  // Headers already out (a change stream): end the connection once its answer has. The request keeps the socket
  // the response lets go of when it finishes.
  const socket: Socket = res.req.socket;
  if (res.writableFinished) socket.destroySoon();
  else res.once('finish', () => socket.destroySoon());
}
