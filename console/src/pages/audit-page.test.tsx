import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type components } from '../api/client';
import { holdGets, type HeldGet } from '../testing/held-requests';
import { AuditPage } from './audit-page';

vi.mock('../lib/live', () => import('../testing/live'));
vi.mock('../lib/identity', () => ({ useIdentity: () => ({ whoami: { subject: 'admin', tenant: 'default', scopes: ['admin:audit'] } }) }));
vi.mock('../lib/prefs', () => ({ usePrefs: () => ({ timeMode: 'utc' }) }));

type AuditEvent = components['schemas']['AuditEventDto'];
type Page = { items: AuditEvent[]; next_cursor: string | null };
let held: ReturnType<typeof holdGets<Page>>;
let calls: HeldGet<Page>[];

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
    occurrences: 1,
  }) as AuditEvent;
const answer = (index: number, items: AuditEvent[], next_cursor: string | null = null) => held.answer(index, { items, next_cursor });
const actions = () => screen.queryAllByRole('row').slice(1).map((row) => row.children[1].textContent);

beforeEach(() => {
  held = holdGets<Page>();
  calls = held.calls;
});
afterEach(() => vi.restoreAllMocks());

const renderPage = () =>
  render(
    <MemoryRouter initialEntries={['/audit']}>
      <AuditPage />
    </MemoryRouter>,
  );

describe('AuditPage', () => {
  it('shows how many refusals a summary of collapsed denials stands for, and nothing for a single event', async () => {
    renderPage();
    await waitFor(() => expect(calls).toHaveLength(1));
    const summary: AuditEvent = { ...event('2', 'auth.user_token'), resource: 'GET /v1/jobs', result: 'deny', reason: 'invalid_token', occurrences: 120 };
    await answer(0, [summary, event('1', 'job.submit')]);

    const rows = screen.queryAllByRole('row').slice(1);
    expect(rows[0].children[5].textContent).toBe('deny invalid_token ×120');
    expect(rows[1].children[5].textContent).toBe('allow');
  });

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
