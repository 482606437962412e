/** Node's socket errors when Postgres is down, restarting or unreachable. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);

/** SQLSTATE classes and codes that say the server, not the statement, is the problem. */
const UNAVAILABLE_SQLSTATE = [/^08/, /^57P0[1-4]$/, /^53300$/];

/** What `pg` and its pool throw without a code when a connection ends or cannot be had. */
const UNAVAILABLE_MESSAGES = [/^Connection terminated/, /^timeout exceeded when trying to connect/, /^Client has encountered a connection error/];

/**
 * Whether `error` (as `pg` or TypeORM throws it, with its `driverError`) means the database could not be reached or went
 * away under the statement, so the same request may pass once it is back: a crash, a restart, a full connection table.
 * The socket errors are any server's: an S3 artifact store that refuses connections counts too.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 4; depth += 1) {
    const { code, syscall } = current as { code?: unknown; syscall?: unknown };
    // A socket error names its system call; Node's own ECONNRESET "aborted" (an HTTP client that went away) has none.
    if (typeof code === 'string' && typeof syscall === 'string' && SOCKET_CODES.has(code)) return true;
    if (typeof code === 'string' && UNAVAILABLE_SQLSTATE.some((pattern) => pattern.test(code))) return true;
    if (UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(current instanceof Error ? current.message : ''))) return true;
    current = (current as { driverError?: unknown }).driverError ?? current.cause;
  }
  return false;
}
