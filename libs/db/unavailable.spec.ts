import { QueryFailedError } from 'typeorm';
import { isDatabaseUnavailable } from './unavailable';

function withCode(message: string, code: string, syscall?: string): Error {
  return Object.assign(new Error(message), { code, ...(syscall ? { syscall } : {}) });
}

describe(isDatabaseUnavailable.name, () => {
  it.each([
    ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:55432', 'ECONNREFUSED', 'connect')],
    ['a connection reset by the server', withCode('read ECONNRESET', 'ECONNRESET', 'read')],
    ['a server starting up', withCode('the database system is starting up', '57P03')],
    ['a server shutting down', withCode('terminating connection due to administrator command', '57P01')],
    ['a full connection table', withCode('sorry, too many clients already', '53300')],
    ['a connection exception', withCode('connection failure', '08006')],
    ['a connection that ended mid-statement', new Error('Connection terminated unexpectedly')],
    ['a pool that could not connect in time', new Error('timeout exceeded when trying to connect')],
    ['TypeORM wrapping a server error', new QueryFailedError('SELECT 1', [], withCode('the database system is not yet accepting connections', '57P03'))],
    ['an error caused by one', new Error('could not read the job', { cause: withCode('connect ECONNREFUSED 127.0.0.1:55432', 'ECONNREFUSED', 'connect') })],
  ])('is true for %s', (_what, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', new QueryFailedError('INSERT', [], withCode('duplicate key value violates unique constraint', '23505'))],
    ['a syntax error', withCode('syntax error at or near "SELEC"', '42601')],
    ['a serialization failure', withCode('could not serialize access', '40001')],
    ['an error of the code itself', new TypeError('cannot read properties of undefined')],
    ['an HTTP request its client aborted (Node: ECONNRESET "aborted", no system call)', withCode('aborted', 'ECONNRESET')],
    ['something that is not an error', 'ECONNREFUSED'],
  ])('is false for %s', (_what, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
