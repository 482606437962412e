import { ApiError, ApiUnreachableError, type ApiClient } from './api-client';
import { UsageError } from './arguments';

export enum ExitCode {
  Ok = 0,
  /** The job ended FAILED or CANCELLED. */
  JobNotSucceeded = 1,
  /** Bad usage, or the API refused or could not be reached. */
  Error = 2,
  /** --wait gave up before the job ended. */
  WaitTimeout = 3,
}

/** Where the CLI writes and how it keeps time; tests pass fakes, bin/mlis passes the process's. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** How often --wait polls the job; 500 ms unless a test shortens it. */
  pollIntervalMs?: number;
  now?: () => Date;
  /** How a retry's pause is waited out (a timer unless a test records it instead). */
  sleep?: (ms: number) => Promise<void>;
  /** stderr is a terminal: a transfer shows its progress on a line redrawn in place (transfer-progress.ts). */
  progress?: boolean;
}

/** Back to the start of the terminal's line and erase it. */
export const CLEAR_LINE = '\r\x1b[K';

/** Writes a line to stderr; on a terminal, over a progress line that may be drawn (clearing an empty line is harmless). */
export function stderrLine(io: CliIo): (line: string) => void {
  return (line) => io.stderr(`${io.progress ? CLEAR_LINE : ''}${line}\n`);
}

export interface CliContext {
  client: ApiClient;
  /** Print raw API JSON instead of tables. */
  json: boolean;
  io: CliIo;
  out: (line: string) => void;
  err: (line: string) => void;
  now: () => Date;
}

export function createContext(client: ApiClient, json: boolean, io: CliIo): CliContext {
  return {
    client,
    json,
    io,
    out: (line) => io.stdout(`${line}\n`),
    err: stderrLine(io),
    now: io.now ?? (() => new Date()),
  };
}

export function printJson(context: CliContext, value: unknown): void {
  context.out(JSON.stringify(value, null, 2));
}

/** Writes the failure to stderr and returns the exit code; anything unexpected is reported, not thrown. */
export function reportError(error: unknown, err: (line: string) => void): ExitCode {
  if (error instanceof ApiError) {
    err(`error ${error.code}: ${error.message}`);
    for (const detail of error.details) err(`  ${detail.field}: ${detail.problem}`);
    if (error.requestId) err(`request id: ${error.requestId}`);
  } else if (error instanceof ApiUnreachableError) {
    err(`error: ${error.message}`);
    if (error.refused) {
      err('Is the MLIS stack running? Start it with `npm run up`, or point --api-url (or MLIS_API_URL) at a running API.');
    }
  } else if (error instanceof UsageError) {
    err(`error: ${error.message}`);
  } else {
    err(`error: ${error instanceof Error ? error.message : String(error)}`);
  }
  return ExitCode.Error;
}
