import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter } from 'react-router';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Job, type JobState } from '../api/client';
import { holdGets, type HeldGet } from '../testing/held-requests';
import { bumpLiveTick, resetLive } from '../testing/live';
import { JobsPage } from './jobs-page';

vi.mock('../lib/identity', () => ({ useIdentity: () => ({ whoami: { subject: 'alice', tenant: 'default', scopes: ['jobs:read', 'jobs:cancel'] } }) }));
vi.mock('../lib/live', () => import('../testing/live'));
// jsdom lays nothing out: every row is "visible", so reaching the end asks for the next page at once.
vi.mock('@tanstack/react-virtual', () => ({
  useVirtualizer: ({ count, estimateSize }: { count: number; estimateSize(): number }) => ({
    getVirtualItems: () => Array.from({ length: count }, (_, index) => ({ index, start: index * estimateSize() })),
    getTotalSize: () => count * estimateSize(),
  }),
}));

type Page = { items: Job[]; next_cursor: string | null };
let held: ReturnType<typeof holdGets<Page>>;
let calls: HeldGet<Page>[];

const job = (n: number, state: JobState): Job =>
  ({
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    task_type: 'sleep',
    state,
    attempts: 1,
    max_attempts: 3,
    // Newest first, as the API lists them: a higher n is older.
    created_at: new Date(Date.UTC(2025, 0, 1, 0, 0, 0) - n * 1000).toISOString(),
    pending_reason: null,
    pending_detail: null,
    queue_position: null,
    latest_assignment: null,
  }) as unknown as Job;
const page = (items: Job[], next_cursor: string | null = null) => ({ items, next_cursor });
const shown = () => screen.queryAllByTestId('job-row').map((row) => row.querySelector('input')!.getAttribute('aria-label')!.slice(-2));
const answer = (index: number, body: Page) => held.answer(index, body);

beforeEach(() => {
  resetLive();
  held = holdGets<Page>();
  calls = held.calls;
});
afterEach(() => vi.restoreAllMocks());

const renderAt = (url: string) =>
  render(
    <MemoryRouter initialEntries={[url]}>
      <JobsPage />
    </MemoryRouter>,
  );

describe('JobsPage', () => {
  it('drops, on a live refresh, the loaded jobs that no longer match the filter', async () => {
    renderAt('/jobs?state=RUNNING');
    await answer(0, page([job(1, 'RUNNING'), job(2, 'RUNNING'), job(3, 'RUNNING')]));
    expect(shown()).toEqual(['01', '02', '03']);

    bumpLiveTick();
    await waitFor(() => expect(calls).toHaveLength(2));
    // Job 2 finished: it is no longer in the RUNNING list.
    await answer(1, page([job(1, 'RUNNING'), job(3, 'RUNNING')]));
    expect(shown()).toEqual(['01', '03']);
  });

  it('keeps jobs loaded from later pages, older than the refreshed first page', async () => {
    renderAt('/jobs?state=RUNNING');
    await answer(0, page([job(1, 'RUNNING'), job(2, 'RUNNING')], 'c2'));
    // The next page, asked for as the end of the list shows.
    await waitFor(() => expect(calls).toHaveLength(2));
    expect(calls[1].query).toEqual(expect.objectContaining({ state: 'RUNNING', cursor: 'c2' }));
    await answer(1, page([job(3, 'RUNNING'), job(4, 'RUNNING')], 'c4'));
    expect(shown()).toEqual(['01', '02', '03', '04']);
    // The third page stays in flight.
    await waitFor(() => expect(calls).toHaveLength(3));

    bumpLiveTick();
    await waitFor(() => expect(calls).toHaveLength(4));
    expect(calls[3].query).not.toHaveProperty('cursor');
    // Job 1 finished, job 0 is new; jobs 3 and 4 lie past the first page.
    await answer(3, page([job(0, 'RUNNING'), job(2, 'RUNNING')], 'c2'));
    expect(shown()).toEqual(['00', '02', '03', '04']);
    expect(screen.getByTestId('jobs-count')).toHaveTextContent('4 loaded, more available');
  });

  it('ignores a next page asked for under the previous filter', async () => {
    renderAt('/jobs?state=RUNNING');
    await answer(0, page([job(1, 'RUNNING')], 'c1'));
    await waitFor(() => expect(calls).toHaveLength(2));

    await userEvent.selectOptions(screen.getByLabelText('State'), 'FAILED');
    await waitFor(() => expect(calls).toHaveLength(3));
    // The new filter's first page, not the old filter's cursor.
    expect(calls[2].query).toEqual({ state: 'FAILED', limit: 100 });
    await answer(2, page([job(5, 'FAILED')]));
    await answer(1, page([job(2, 'RUNNING')], 'c2'));

    expect(calls).toHaveLength(3);
    expect(shown()).toEqual(['05']);
    expect(screen.getByTestId('jobs-count')).toHaveTextContent(/^1 loaded$/);
  });

  it('ignores a live refresh asked for under the previous filter', async () => {
    renderAt('/jobs?state=RUNNING');
    await answer(0, page([job(1, 'RUNNING')]));
    bumpLiveTick();
    await waitFor(() => expect(calls).toHaveLength(2));

    await userEvent.selectOptions(screen.getByLabelText('State'), 'FAILED');
    await waitFor(() => expect(calls).toHaveLength(3));
    await answer(2, page([job(5, 'FAILED')]));
    await answer(1, page([job(1, 'RUNNING'), job(2, 'RUNNING')], 'c2'));

    expect(shown()).toEqual(['05']);
    expect(screen.getByTestId('jobs-count')).toHaveTextContent(/^1 loaded$/);
  });
});
