import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, ApiError, unwrap, type Job } from '../api/client';
import { ErrorNotice, StateBadge } from '../components/common';
import { JobFilterForm } from '../components/job-filter-form';
import { useIdentity } from '../lib/identity';
import { filtersFromSearch, filtersToSearch, hasFilters, listQuery, type JobFilters } from '../lib/job-filters';
import { useLive } from '../lib/live';
import { mergeFirstPage } from '../lib/use-cursor-pages';
import { missingScope } from '../lib/scopes';
import { ageOf } from '../lib/time';
import { cancelJobs, cancellable, type BulkResult } from '../lib/bulk-cancel';

const PAGE_SIZE = 100;
const ROW_HEIGHT = 40;

interface ListState {
  /** The filters and reload the rows were loaded for: a later answer asked for another is dropped. */
  key: string;
  items: Job[];
  nextCursor: string | null;
  error: ApiError | null;
  loading: boolean;
}

async function fetchPage(filters: JobFilters, cursor: string | undefined): Promise<{ items: Job[]; next_cursor: string | null }> {
  if (filters.id) {
    try {
      return { items: [await unwrap(api.GET('/v1/jobs/{id}', { params: { path: { id: filters.id } } }))], next_cursor: null };
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return { items: [], next_cursor: null };
      throw error;
    }
  }
  return unwrap(api.GET('/v1/jobs', { params: { query: listQuery(filters, cursor, PAGE_SIZE) } }));
}

export function JobsPage() {
  const [search, setSearch] = useSearchParams();
  const filters = useMemo(() => filtersFromSearch(search), [search]);
  const filterKey = filtersToSearch(filters).toString();
  const { tick, markUpdated } = useLive();
  const { whoami } = useIdentity();
  const [reloads, setReloads] = useState(0);
  const listKey = `${filterKey}#${reloads}`;
  const [list, setList] = useState<ListState>({ key: listKey, items: [], nextCursor: null, error: null, loading: true });
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [preview, setPreview] = useState<Job[] | null>(null);
  const [result, setResult] = useState<BulkResult | null>(null);
  // The list key a next page is being fetched for.
  const loadingMore = useRef<string | null>(null);

  useEffect(() => {
    let current = true;
    setList({ key: listKey, items: [], nextCursor: null, error: null, loading: true });
    setSelected(new Set());
    fetchPage(filters, undefined)
      .then((page) => {
        if (!current) return;
        setList({ key: listKey, items: page.items, nextCursor: page.next_cursor, error: null, loading: false });
        markUpdated();
      })
      .catch((error: ApiError) => current && setList({ key: listKey, items: [], nextCursor: null, error, loading: false }));
    return () => {
      current = false;
    };
  }, [listKey, markUpdated]);

  useEffect(() => {
    if (tick === 0) return;
    let current = true;
    const asked = listKey;
    fetchPage(filters, undefined)
      .then((page) => {
        if (!current) return;
        setList((state) => (state.key === asked ? { ...state, ...mergeFirstPage(state, page, (job) => job.created_at), error: null } : state));
        markUpdated();
      })
      .catch((error: ApiError) => current && setList((state) => (state.key === asked ? { ...state, error } : state)));
    return () => {
      current = false;
    };
  }, [tick]);

  const loadMore = useCallback(() => {
    // Until the list has started over, its cursor belongs to the previous filters.
    if (list.key !== listKey || !list.nextCursor || loadingMore.current === listKey) return;
    const asked = listKey;
    loadingMore.current = asked;
    fetchPage(filters, list.nextCursor)
      .then((page) =>
        setList((state) =>
          state.key === asked
            ? {
                ...state,
                items: [...state.items, ...page.items.filter((job) => !state.items.some((known) => known.id === job.id))],
                nextCursor: page.next_cursor,
              }
            : state,
        ),
      )
      .catch((error: ApiError) => setList((state) => (state.key === asked ? { ...state, error } : state)))
      .finally(() => {
        if (loadingMore.current === asked) loadingMore.current = null;
      });
  }, [filters, listKey, list.key, list.nextCursor]);

  const scroller = useRef<HTMLDivElement>(null);
  const rows = useVirtualizer({ count: list.items.length, getScrollElement: () => scroller.current, estimateSize: () => ROW_HEIGHT, overscan: 10 });
  const virtualRows = rows.getVirtualItems();
  const lastIndex = virtualRows[virtualRows.length - 1]?.index ?? -1;
  useEffect(() => {
    if (lastIndex >= list.items.length - 20) loadMore();
  }, [lastIndex, list.items.length, loadMore]);

  const applyFilters = (next: JobFilters) => setSearch(filtersToSearch(next));
  const cancelBlocked = missingScope(whoami, 'jobs:cancel');
  const selectedJobs = list.items.filter((job) => selected.has(job.id));

  const toggle = (id: string) =>
    setSelected((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  const runCancel = async () => {
    const jobs = preview ?? [];
    setPreview(null);
    setResult(await cancelJobs(jobs, (id) => unwrap(api.POST('/v1/jobs/{id}/cancel', { params: { path: { id } } }))));
    setSelected(new Set());
    setReloads((n) => n + 1);
  };

  return (
    <>
      <h1>Jobs</h1>
      <JobFilterForm key={filterKey} filters={filters} onApply={applyFilters} />
      <div className="toolbar">
        <span className="muted" data-testid="jobs-count">
          {list.items.length} loaded{list.nextCursor ? ', more available' : ''}
        </span>
        <button type="button" disabled={selectedJobs.length === 0 || cancelBlocked !== null} title={cancelBlocked ?? undefined} onClick={() => setPreview(selectedJobs)}>
          Cancel selected ({selectedJobs.length})
        </button>
        {cancelBlocked ? <span className="muted small">{cancelBlocked}</span> : null}
      </div>
      {preview ? <CancelPreview jobs={preview} onConfirm={() => void runCancel()} onClose={() => setPreview(null)} /> : null}
      {result ? (
        <div className="notice" role="status" data-testid="bulk-result">
          Cancelled {result.cancelled}; skipped {result.skipped} already finished
          {result.failed.length > 0 ? `; ${result.failed.length} failed: ${result.failed.map((f) => `${f.id.slice(0, 8)} ${f.code}`).join(', ')}` : ''}.{' '}
          <button type="button" className="link" onClick={() => setResult(null)}>
            Dismiss
          </button>
        </div>
      ) : null}
      {list.error ? (
        list.error.unreachable && list.items.length === 0 ? (
          <div className="empty" data-testid="empty-unreachable">
            <h2>The API is unreachable</h2>
            <p>{list.error.message}</p>
            <button type="button" onClick={() => setReloads((n) => n + 1)}>
              Retry
            </button>
          </div>
        ) : (
          <ErrorNotice error={list.error} what="jobs" />
        )
      ) : null}
      {!list.loading && !list.error && list.items.length === 0 ? (
        hasFilters(filters) ? (
          <div className="empty" data-testid="empty-filtered">
            <h2>No job matches these filters</h2>
            <button type="button" onClick={() => applyFilters({})}>
              Clear filters
            </button>
          </div>
        ) : (
          <div className="empty" data-testid="empty-none">
            <h2>No jobs yet</h2>
            <p>
              <Link to="/submit">Submit a job</Link> or run <code>mlis submit sleep --seconds 1</code>.
            </p>
          </div>
        )
      ) : null}
      {list.items.length > 0 ? (
        <div className="grid-wrap" role="table" aria-label="Jobs" aria-rowcount={list.items.length + 1}>
          <div className="grid-row grid-head" role="row">
            <span role="columnheader">
              <span className="sr-only">Select</span>
            </span>
            <span role="columnheader">Job</span>
            <span role="columnheader">Task</span>
            <span role="columnheader">State</span>
            <span role="columnheader">Pending reason</span>
            <span role="columnheader">Queue pos.</span>
            <span role="columnheader">Attempts</span>
            <span role="columnheader">Age</span>
            <span role="columnheader">Node</span>
          </div>
          <div ref={scroller} className="grid-body" data-testid="jobs-scroller">
            <div style={{ height: rows.getTotalSize(), position: 'relative' }} role="rowgroup">
              {virtualRows.map((row) => {
                const job = list.items[row.index];
                return (
                  <div
                    key={job.id}
                    role="row"
                    aria-rowindex={row.index + 2}
                    className="grid-row"
                    data-testid="job-row"
                    style={{ position: 'absolute', top: 0, left: 0, right: 0, height: ROW_HEIGHT, transform: `translateY(${row.start}px)` }}
                  >
                    <span role="cell">
                      <input type="checkbox" aria-label={`Select job ${job.id}`} checked={selected.has(job.id)} onChange={() => toggle(job.id)} />
                    </span>
                    <span role="cell">
                      <Link to={`/jobs/${job.id}`} className="mono">
                        {job.id.slice(0, 8)}
                      </Link>
                    </span>
                    <span role="cell">{job.task_type}</span>
                    <span role="cell">
                      <StateBadge state={job.state} />
                    </span>
                    <span role="cell" title={job.pending_detail ?? undefined}>
                      {job.pending_reason ?? ''}
                      {job.pending_detail ? <span className="muted"> ({job.pending_detail})</span> : null}
                    </span>
                    <span role="cell">{job.queue_position ?? ''}</span>
                    <span role="cell">
                      {job.attempts}/{job.max_attempts}
                    </span>
                    <span role="cell">{ageOf(job.created_at, Date.now())}</span>
                    <span role="cell">{job.latest_assignment?.node_id ?? ''}</span>
                  </div>
                );
              })}
            </div>
          </div>
        </div>
      ) : null}
      {list.loading ? <p>Loading…</p> : null}
    </>
  );
}

function CancelPreview({ jobs, onConfirm, onClose }: { jobs: Job[]; onConfirm(): void; onClose(): void }) {
  const ready = jobs.filter(cancellable);
  return (
    <div className="notice" role="dialog" aria-modal="false" aria-labelledby="cancel-title" data-testid="cancel-preview">
      <h2 id="cancel-title">Cancel {ready.length} job(s)?</h2>
      <p>
        {jobs.length} selected: {ready.length} QUEUED or RUNNING will be cancelled; {jobs.length - ready.length} already finished will be skipped.
      </p>
      <button type="button" onClick={onConfirm} disabled={ready.length === 0} autoFocus>
        Cancel {ready.length} job(s)
      </button>{' '}
      <button type="button" onClick={onClose}>
        Keep them
      </button>
    </div>
  );
}
