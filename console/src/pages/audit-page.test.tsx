import { act, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { api, type components } from '../api/client';
import { AuditPage } from './audit-page';

vi.mock('../lib/identity', () => ({ useIdentity: () => ({ whoami: { subject: 'admin', tenant: 'default', scopes: ['admin:audit'] } }) }));
vi.mock('../lib/prefs', () => ({ usePrefs: () => ({ timeMode: 'utc' }) }));

type AuditEvent = components['schemas']['AuditEventDto'];
interface Call {
  query: Record<string, unknown>;
  resolve(page: { items: AuditEvent[]; next_cursor: string | null }): void;
}
let calls: Call[];

const event = (id: string, action: string): AuditEvent =>
  ({
    id,
    at: '2025-01-01T00:00:00.000Z',
    request_id: `req-${id}`,
    actor_tenant: 'default',
    actor_subject: 'alice',
    target_tenant: 'default',
    action,
    resource: `job/${id}`,
    result: 'allow',
    reason: null,
  }) as AuditEvent;
const answer = async (index: number, items: AuditEvent[], next_cursor: string | null = null) => {
  await act(async () => calls[index].resolve({ items, next_cursor }));
};
const actions = () => screen.queryAllByRole('row').slice(1).map((row) => row.children[1].textContent);

beforeEach(() => {
  calls = [];
  vi.spyOn(api, 'GET').mockImplementation(((_path: string, init: { params: { query: Record<string, unknown> } }) =>
    new Promise((resolve) =>
      calls.push({ query: init.params.query, resolve: (data) => resolve({ data, response: new Response(null, { status: 200 }) }) }),
    )) as never);
});
afterEach(() => vi.restoreAllMocks());

const renderPage = () =>
  render(
    <MemoryRouter initialEntries={['/audit']}>
      <AuditPage />
    </MemoryRouter>,
  );

describe('AuditPage', () => {
  it('drops a late answer for filters since changed', async () => {
    renderPage();
    await waitFor(() => expect(calls).toHaveLength(1));

    await userEvent.type(screen.getByLabelText('Action'), 'job.cancel{Enter}');
    await waitFor(() => expect(calls).toHaveLength(2));
    expect(calls[1].query).toEqual(expect.objectContaining({ action: 'job.cancel' }));
    await answer(1, [event('2', 'job.cancel')]);
    await answer(0, [event('1', 'job.submit')], 'older');

    expect(actions()).toEqual(['job.cancel']);
    expect(screen.queryByRole('button', { name: 'Load older events' })).toBeNull();
  });

  it('drops older events asked for before the filters changed', async () => {
    renderPage();
    await waitFor(() => expect(calls).toHaveLength(1));
    await answer(0, [event('1', 'job.submit')], 'older');

    await userEvent.click(screen.getByRole('button', { name: 'Load older events' }));
    await userEvent.type(screen.getByLabelText('Action'), 'job.cancel{Enter}');
    await waitFor(() => expect(calls).toHaveLength(3));
    await answer(2, [event('2', 'job.cancel')]);
    await answer(1, [event('0', 'job.submit')], 'oldest');

    expect(actions()).toEqual(['job.cancel']);
    expect(screen.queryByRole('button', { name: 'Load older events' })).toBeNull();
  });
});
