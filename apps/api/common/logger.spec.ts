import { captureLogLines } from '../../../test/support/log-capture';
import { createLogger } from './logger';


describe('API logger', () => {
  it("writes Nest's calls as the JSON lines every process writes: context, objects as fields, errors with stack, secrets redacted", () => {
    const { lines, stream } = captureLogLines();
    const logger = createLogger('info', stream);
    logger.log('Mapped {/v1/jobs, POST} route', 'RouterExplorer');
    logger.log({ method: 'POST', path: '/v1/jobs', status: 202, authorization: 'Bearer abc' }, 'http');
    logger.error('start-up failed', 'Error: boom\n    at x', 'api');
    logger.debug('hidden at info');
    expect(lines).toEqual([
      expect.objectContaining({ level: 'info', process: 'api', context: 'RouterExplorer', msg: 'Mapped {/v1/jobs, POST} route' }),
      expect.objectContaining({ level: 'info', context: 'http', method: 'POST', status: 202, authorization: '[redacted]', msg: 'http' }),
      expect.objectContaining({ level: 'error', context: 'api', stack: 'Error: boom\n    at x', msg: 'start-up failed' }),
    ]);
  });
});
