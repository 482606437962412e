import { describe, expect, it } from 'vitest';
import { filtersFromSearch, filtersToSearch, hasFilters, listQuery } from './job-filters';

describe('job filters ↔ URL', () => {
  it('round-trips every filter through the query string in a fixed key order', () => {
    const filters = {
      id: '0B9F3C1E-8A57-4C1B-9D0E-2F6A3B7C8D9E',
      node: 'gpu-1',
      state: 'QUEUED' as const,
      task_type: 'gpu_demo',
      worker_group: 'gpu',
      submitted_by: 'alice',
      created_after: '2026-01-01T00:00:00.000Z',
      created_before: '2026-01-02T00:00:00.000Z',
    };
    const search = filtersToSearch(filters);
    expect(search.toString()).toBe(
      'state=QUEUED&task_type=gpu_demo&worker_group=gpu&node=gpu-1&submitted_by=alice&created_after=2026-01-01T00%3A00%3A00.000Z&created_before=2026-01-02T00%3A00%3A00.000Z&id=0B9F3C1E-8A57-4C1B-9D0E-2F6A3B7C8D9E',
    );
    expect(filtersFromSearch(search)).toEqual({ ...filters, id: filters.id.toLowerCase() });
  });

  it('drops empty, unknown and malformed values instead of sending them to the API', () => {
    const filters = filtersFromSearch(new URLSearchParams('state=SLEEPING&task_type=&created_after=yesterday&id=42&colour=blue&node=%20cpu-1%20'));
    expect(filters).toEqual({ node: 'cpu-1' });
    expect(hasFilters(filters)).toBe(true);
    expect(hasFilters(filtersFromSearch(new URLSearchParams('state=&colour=blue')))).toBe(false);
  });

  it('turns filters into the list query without the id, with the page size and cursor', () => {
    expect(listQuery({ state: 'RUNNING', id: 'x' }, 'c1', 100)).toEqual({ state: 'RUNNING', limit: 100, cursor: 'c1' });
    expect(listQuery({}, undefined, 50)).toEqual({ limit: 50 });
  });
});
