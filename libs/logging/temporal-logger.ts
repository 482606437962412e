import type { Logger as SdkLogger, LogLevel, LogMetadata } from '@temporalio/common';
import type { Logger } from './logger';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/** SDK warnings that describe how MLIS runs by design: a node's worker has activities and no workflows. */
const EXPECTED_WARNINGS = new Set(['No workflows registered, not polling for workflow tasks']);

/** The Temporal SDK's logs (worker state, bundling, core warnings) as lines of our logger, its metadata as fields. */
export function temporalLogger(logger: Logger): SdkLogger {
  const write = (sdkLevel: LogLevel, message: string, meta?: LogMetadata): void => {
    const level = sdkLevel === 'WARN' && EXPECTED_WARNINGS.has(message) ? 'INFO' : sdkLevel;
    // The SDK logs every task at debug or trace: below the logger's level, build nothing.
    if (!logger.isLevelEnabled(LEVELS[level])) return;
    // Symbol keys (the SDK's internal markers) are not loggable fields.
    const fields = Object.fromEntries(Object.entries(meta ?? {}));
    logger[LEVELS[level]]({ sdk: true, ...fields }, message);
  };
  return {
    log: write,
    trace: (message, meta) => write('TRACE', message, meta),
    debug: (message, meta) => write('DEBUG', message, meta),
    info: (message, meta) => write('INFO', message, meta),
    warn: (message, meta) => write('WARN', message, meta),
    error: (message, meta) => write('ERROR', message, meta),
  };
}
