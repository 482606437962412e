import { Logger } from '@nestjs/common';
import { loadConfig } from '@mlis/config';
import { DomainError } from '../common/domain-error';
import { WorkerCredentials } from './worker-credentials';

describe(WorkerCredentials.name, () => {
  afterEach(() => jest.restoreAllMocks());

  it('refuses registrations while the bootstrap secret is unreadable, logging that once a minute, not once an attempt', () => {
    const errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const config = loadConfig({ MLIS_WORKER_BOOTSTRAP_SECRET_FILE: '/nonexistent/mlis-bootstrap-secret' });
    const credentials = new WorkerCredentials(config, 's'.repeat(48));
    let now = Date.parse('2030-01-01T00:00:00Z');
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    for (let i = 0; i < 5; i += 1) {
      expect(() => credentials.checkBootstrap('Bearer some-guess')).toThrow(DomainError);
      now += 1000;
    }
    expect(errors).toHaveBeenCalledTimes(1);
    now += 60_000;
    expect(() => credentials.checkBootstrap('Bearer some-guess')).toThrow(DomainError);
    expect(errors).toHaveBeenCalledTimes(2);
    // No credential at all is a 401 before the file is looked at.
    expect(credentials.checkBootstrap(undefined)).toBe('missing_bootstrap_credential');
    expect(errors).toHaveBeenCalledTimes(2);
  });
});
