import { JOB_STATES, type JobListQuery, type JobState } from '../api/client';

/** The Jobs page's filters; they live in the URL so a filtered view can be shared and survives reload. */
export interface JobFilters {
  state?: JobState;
  task_type?: string;
  worker_group?: string;
  node?: string;
  submitted_by?: string;
  /** ISO 8601 instants. */
  created_after?: string;
  created_before?: string;
  /** One job by id: the list becomes that job, or nothing. */
  id?: string;
}

export const FILTER_KEYS = ['state', 'task_type', 'worker_group', 'node', 'submitted_by', 'created_after', 'created_before', 'id'] as const;
type FilterKey = (typeof FILTER_KEYS)[number];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function validValue(key: FilterKey, value: string): boolean {
  switch (key) {
    case 'state':
      return (JOB_STATES as readonly string[]).includes(value);
    case 'created_after':
    case 'created_before':
      return !Number.isNaN(Date.parse(value));
    case 'id':
      return UUID.test(value);
    default:
      return value.length <= 200;
  }
}

/** Reads the filters from a query string; empty, unknown and malformed values are dropped, not sent to the API. */
export function filtersFromSearch(search: URLSearchParams): JobFilters {
  const filters: Record<string, string> = {};
  for (const key of FILTER_KEYS) {
    const value = search.get(key)?.trim();
    if (value && validValue(key, value)) filters[key] = key === 'id' ? value.toLowerCase() : value;
  }
  return filters as JobFilters;
}

/** The query string for a set of filters, keys in a fixed order so equal filters give equal URLs. */
export function filtersToSearch(filters: JobFilters): URLSearchParams {
  const search = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    const value = filters[key]?.trim();
    if (value) search.set(key, value);
  }
  return search;
}

export function hasFilters(filters: JobFilters): boolean {
  return FILTER_KEYS.some((key) => Boolean(filters[key]));
}

/** The list route's query for one page (the id filter is a direct lookup instead). */
export function listQuery(filters: JobFilters, cursor: string | undefined, limit: number): JobListQuery {
  const rest: JobFilters = { ...filters };
  delete rest.id;
  return { ...rest, limit, ...(cursor ? { cursor } : {}) };
}
