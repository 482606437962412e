import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';

// The real client and its middleware, over a stubbed fetch: openapi-fetch takes fetch and Request when the client is
// created, and Node's Request needs an absolute URL where the browser resolves the console's same-origin paths.
const fetchMock = vi.hoisted(() => {
  const fetchMock = vi.fn<(request: Request) => Promise<Response>>();
  vi.stubGlobal('fetch', fetchMock);
  vi.stubGlobal(
    'Request',
    class extends Request {
      constructor(input: RequestInfo | URL, init?: RequestInit) {
        super(typeof input === 'string' ? new URL(input, location.href) : input, init);
      }
    },
  );
  return fetchMock;
});

import { api, unwrap, UNAUTHORIZED_EVENT } from '../api/client';
import { SignInPage } from '../pages/sign-in-page';
import { IdentityProvider } from './identity';

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
const unauthorized = () => json(401, { error: { code: 'unauthorized', message: 'Invalid bearer token', request_id: 'r1' } });

afterEach(() => {
  fetchMock.mockReset();
  sessionStorage.clear();
});

describe('sign-in', () => {
  it('reports a refused token without a "session ended" notice: there was no session', async () => {
    fetchMock.mockImplementation(async (request) =>
      new URL(request.url).pathname === '/v1/auth/whoami' ? unauthorized() : json(200, { dev_sign_in: false, priority_classes: [] }),
    );
    const ended = vi.fn();
    window.addEventListener(UNAUTHORIZED_EVENT, ended);
    render(
      <IdentityProvider>
        <SignInPage />
      </IdentityProvider>,
    );

    await userEvent.type(screen.getByLabelText('Bearer token'), 'not-a-token');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('alert')).toHaveTextContent('Invalid bearer token (unauthorized)');
    expect(screen.queryByText(/Your session ended/)).toBeNull();
    expect(ended).not.toHaveBeenCalled();
    expect(sessionStorage.length).toBe(0);
    window.removeEventListener(UNAUTHORIZED_EVENT, ended);
  });

  it('still ends the session on a 401 from any other route', async () => {
    fetchMock.mockImplementation(async () => unauthorized());
    const ended = vi.fn();
    window.addEventListener(UNAUTHORIZED_EVENT, ended);

    await expect(unwrap(api.GET('/v1/tenants'))).rejects.toMatchObject({ status: 401 });
    expect(ended).toHaveBeenCalledTimes(1);
    window.removeEventListener(UNAUTHORIZED_EVENT, ended);
  });
});
