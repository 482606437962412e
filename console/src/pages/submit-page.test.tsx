import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api } from '../api/client';
import { SubmitPage } from './submit-page';

vi.mock('../lib/identity', () => ({ useIdentity: () => ({ whoami: { subject: 'alice', tenant: 'default', scopes: ['jobs:submit'] }, config: null }) }));
vi.mock('../lib/live', () => ({ useLive: () => ({ tick: 0, markUpdated: () => {} }) }));

const taskTypes = {
  items: [{ task_type: 'sleep', description: 'Sleeps.', params_schema: { type: 'object', properties: { seconds: { type: 'number', default: 1 } } } }],
};
const answer = (status: number, data?: unknown, error?: unknown) =>
  Promise.resolve({ data, error, response: new Response(null, { status }) }) as never;
const unavailable = () => answer(503, undefined, { error: { code: 'dependency_unavailable', message: 'The database is unavailable', request_id: 'r1' } });

let post: ReturnType<typeof vi.spyOn>;
const keys = () => post.mock.calls.map((call: unknown[]) => (call[1] as { params: { header: Record<string, string> } }).params.header['Idempotency-Key']);
const submit = () => userEvent.click(screen.getByRole('button', { name: 'Submit sleep' }));

beforeEach(() => {
  vi.spyOn(api, 'GET').mockImplementation(() => answer(200, taskTypes));
  post = vi.spyOn(api, 'POST');
});
afterEach(() => vi.restoreAllMocks());

const renderPage = () =>
  render(
    <MemoryRouter initialEntries={['/submit']}>
      <SubmitPage />
    </MemoryRouter>,
  );

describe('SubmitPage', () => {
  it('retries the same form with the same Idempotency-Key, and a changed form with a new one', async () => {
    post.mockImplementation(unavailable);
    renderPage();
    await screen.findByRole('button', { name: 'Submit sleep' });

    await submit();
    await waitFor(() => expect(post).toHaveBeenCalledTimes(1));
    await submit();
    await waitFor(() => expect(post).toHaveBeenCalledTimes(2));
    await userEvent.type(screen.getByRole('textbox', { name: /seconds/ }), '5');
    await submit();
    await waitFor(() => expect(post).toHaveBeenCalledTimes(3));

    const [first, retry, changed] = keys();
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    expect(retry).toBe(first);
    expect(changed).not.toBe(first);
  });

  it('says the outcome of a 503 is unknown and that submitting again is safe', async () => {
    post.mockImplementation(unavailable);
    renderPage();
    await screen.findByRole('button', { name: 'Submit sleep' });
    await submit();

    const notice = await screen.findByTestId('submit-error');
    expect(notice).toHaveTextContent('Outcome unknown (503): dependency_unavailable');
    expect(notice).toHaveTextContent('Submitting the same form again is safe');
    expect(notice).not.toHaveTextContent('Refused');
  });

  it('says the outcome of a proxy\'s 504 is unknown too', async () => {
    post.mockImplementation(() => answer(504, undefined, { error: { code: 'gateway_timeout', message: 'Upstream timed out', request_id: 'r3' } }));
    renderPage();
    await screen.findByRole('button', { name: 'Submit sleep' });
    await submit();

    expect(await screen.findByTestId('submit-error')).toHaveTextContent('Outcome unknown (504): gateway_timeout');
  });

  it('says the outcome is unknown when the API could not be reached', async () => {
    post.mockImplementation(() => Promise.reject(new TypeError('Failed to fetch')) as never);
    renderPage();
    await screen.findByRole('button', { name: 'Submit sleep' });
    await submit();

    expect(await screen.findByTestId('submit-error')).toHaveTextContent('Outcome unknown (unreachable): unreachable');
  });

  it('still says Refused for an answer that created nothing', async () => {
    post.mockImplementation(() => answer(429, undefined, { error: { code: 'rate_limited', message: 'Slow down', request_id: 'r2' } }));
    renderPage();
    await screen.findByRole('button', { name: 'Submit sleep' });
    await submit();

    const notice = await screen.findByTestId('submit-error');
    expect(notice).toHaveTextContent('Refused (429): rate_limited');
    expect(notice).not.toHaveTextContent('Submitting the same form again is safe');
  });

  it('takes a new Idempotency-Key after a success', async () => {
    post.mockImplementation(() => answer(202, { id: 'job-1' }));
    renderPage();
    await screen.findByRole('button', { name: 'Submit sleep' });
    await submit();
    await submit();
    await waitFor(() => expect(post).toHaveBeenCalledTimes(2));

    const [first, second] = keys();
    expect(second).not.toBe(first);
  });
});
