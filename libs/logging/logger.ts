import pino, { type Logger } from 'pino';
import { activeTraceId } from '@mlis/tracing';

export type { Logger } from 'pino';

// Values under these keys never reach a log line, at the top level or one object down.
const SECRET_KEYS = ['authorization', 'token', 'worker_token', 'secret', 'password', 'bootstrapSecret', 'bootstrap_secret'];
const SECRETS = new Set(SECRET_KEYS);
const CENSOR = '[redacted]';

/**
 * `fields` with every secret one object down censored, in a copy; `fields` itself when it holds none. pino's `redact`
 * censors the top level (a check per secret key); its `*.key` paths did this level, but ran for every field of every
 * line and parsed their paths again each time (@pinojs/redact 0.4): three times the CPU of a line or a child logger
 * (6.3-7.4 µs against 1.9-2.6), and 64 KB of a job's garbage in the API (issue #11's profiles).
 */
function censorNestedSecrets(fields: Record<string, unknown>): Record<string, unknown> {
  let censored: Record<string, unknown> | null = null;
  for (const key in fields) {
    const value = fields[key];
    if (value === null || typeof value !== 'object') continue;
    let inner: Record<string, unknown> | null = null;
    for (const innerKey in value) {
      if (SECRETS.has(innerKey)) (inner ??= { ...value })[innerKey] = CENSOR;
    }
    if (inner) (censored ??= { ...fields })[key] = inner;
  }
  return censored ?? fields;
}

// MLIS_LOG_LEVEL also takes Nest's names.
const ALIASES: Record<string, string> = { log: 'info', verbose: 'trace' };
const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);

/**
 * The JSON-lines logger of every MLIS process (the API's through apps/api/common/logger.ts): one object per line with `level`, `time` (ISO),
 * `process`, `pid`, the given bindings (a node's `node` and `group`) and `msg`; secrets redacted. A line written inside
 * a span (tracing on) carries its `trace_id`.
 * Lines go to stdout asynchronously: a busy process writes several in one call instead of one call a line (issue #11's
 * profiles), and pino flushes what is left when the process exits; only a kill -9 can lose the last few.
 */
export function createLogger(process: 'api' | 'control' | 'node', level: string, bindings: Record<string, unknown> = {}, destination?: pino.DestinationStream): Logger {
  const resolved = ALIASES[level] ?? level;
  const logger = pino(
    {
      level: LEVELS.has(resolved) ? resolved : 'info',
      base: { process, pid: globalThis.process.pid, ...bindings },
      redact: { paths: SECRET_KEYS, censor: CENSOR },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), bindings: censorNestedSecrets, log: censorNestedSecrets },
      mixin: () => {
        const traceId = activeTraceId();
        return traceId ? { trace_id: traceId } : {};
      },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
  // pino gives a child's bindings to no formatter: censor them here. A child's children inherit this method.
  const child = logger.child;
  logger.child = function (this: Logger, childBindings, options) {
    return child.call(this, censorNestedSecrets(childBindings), options);
  } as Logger['child'];
  return logger;
}

/**
 * Writes out every line logged so far and ends the logger's destination; resolves once all are written. For a process
 * about to call process.exit(): pino's exit handler writes what is queued while a write may still be under way, so
 * the last lines came out of order, or could go with the process. Nothing may log after it.
 */
export function closeLogger(logger: Logger): Promise<void> {
  const destination = (logger as unknown as Record<symbol, NodeJS.WritableStream>)[pino.symbols.streamSym];
  return new Promise((resolve) => {
    destination.once('close', () => resolve());
    destination.end();
  });
}

/** The error fields worth a log line: its type and message, never the objects it carries. */
export function errorFields(error: unknown): { error: string; error_type?: string } {
  if (!(error instanceof Error)) return { error: String(error) };
  const type = (error as { type?: unknown }).type;
  return { error: error.message, ...(typeof type === 'string' ? { error_type: type } : { error_type: error.name }) };
}
