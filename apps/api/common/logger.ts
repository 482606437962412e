import type { LoggerService } from '@nestjs/common';
import { closeLogger, createLogger as createProcessLogger, errorFields, type Logger } from '@mlis/logging';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * Nest's logger interface over the same pino JSON lines as control and the nodes (`level`, `time`, `process`,
 * `msg`, secrets redacted). Nest passes a trailing context name (and a stack for errors); objects become fields.
 */
export class PinoNestLogger implements LoggerService {
  /** `pino`: the logger underneath, for what takes one (the Temporal SDK's logs, a worker's activity lines). */
  constructor(readonly pino: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  /** Writes out every line logged so far, in order; nothing may log after it (closeLogger). */
  close(): Promise<void> {
    return closeLogger(this.pino);
  }

  private write(level: Level, message: unknown, params: unknown[]): void {
    const rest = [...params];
    const context = typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : undefined;
    const stack = level === 'error' && typeof rest[0] === 'string' ? rest[0] : undefined;
    const fields: Record<string, unknown> = { ...(context ? { context } : {}), ...(stack ? { stack } : {}) };
    if (message instanceof Error) {
      this.pino[level]({ ...fields, ...errorFields(message), stack: message.stack }, message.message);
    } else if (message !== null && typeof message === 'object') {
      const { msg, message: text, ...more } = message as Record<string, unknown>;
      // A structured line without a message (the access log's) is named by its context.
      this.pino[level]({ ...fields, ...more }, String(msg ?? text ?? context ?? ''));
    } else {
      this.pino[level](fields, String(message));
    }
  }
}

/** The API process's logger: one JSON object per line on stdout, from MLIS_LOG_LEVEL up. */
export function createLogger(level: string, destination?: Parameters<typeof createProcessLogger>[3]): PinoNestLogger {
  return new PinoNestLogger(createProcessLogger('api', level, {}, destination));
}
