import { ConsoleLogger, type LogLevel } from '@nestjs/common';

// MLIS_LOG_LEVEL names the lowest level shown; Nest calls "info" "log".
const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
const ALIASES: Record<string, LogLevel> = { info: 'log', trace: 'verbose' };

/** One JSON object per line on stdout/stderr, for every log of the API process. */
export function createLogger(level: string): ConsoleLogger {
  const lowest = ALIASES[level] ?? (LEVELS.includes(level as LogLevel) ? (level as LogLevel) : 'log');
  return new ConsoleLogger({ json: true, logLevels: LEVELS.slice(0, LEVELS.indexOf(lowest) + 1) });
}
