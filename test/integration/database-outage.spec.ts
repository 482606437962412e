import { api, poll, stackNodesLive, submit, TERMINAL, waitForJob } from './support/api';
import { script } from './support/stack-env';

describe('while Postgres is down', () => {
  jest.setTimeout(120_000);

  it('the API answers 503 dependency_unavailable with Retry-After, and serves again once it is back', async () => {
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 0.01 } });
    await waitForJob(accepted.id, (j) => TERMINAL.includes(j.state));

    script('scripts/postgres.sh', ['stop']);
    try {
      for (const [method, path, body] of [
        ['GET', `/v1/jobs/${accepted.id}`, undefined],
        ['POST', '/v1/jobs', { task_type: 'sleep', params: { seconds: 0.01 } }],
      ] as const) {
        const during = await api(method, path, body);
        expect({ method, status: during.status, code: during.body.error?.code }).toEqual({ method, status: 503, code: 'dependency_unavailable' });
        expect(during.headers.get('retry-after')).toBe('1');
      }
    } finally {
      // The suite's cluster runs with MLIS_PG_FAST (global-setup): back as it was.
      script('scripts/postgres.sh', ['start'], { MLIS_PG_FAST: '1' });
    }
    await poll('the API serving the job again', async () => ((await api('GET', `/v1/jobs/${accepted.id}`)).status === 200 ? true : undefined));
    await stackNodesLive();
    const after = await submit({ task_type: 'sleep', params: { seconds: 0.01 } });
    expect((await waitForJob(after.id, (j) => TERMINAL.includes(j.state))).state).toBe('SUCCEEDED');
  });
});
