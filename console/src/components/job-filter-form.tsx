import { useState, type FormEvent } from 'react';
import { JOB_STATES } from '../api/client';
import type { JobFilters } from '../lib/job-filters';

/** The Jobs page's filters: the state applies at once, the rest on Apply (Enter); the page keeps them in the URL. */
export function JobFilterForm({ filters, onApply }: { filters: JobFilters; onApply(filters: JobFilters): void }) {
  const [draft, setDraft] = useState<JobFilters>(filters);
  const set = (key: keyof JobFilters, value: string) => setDraft({ ...draft, [key]: value || undefined });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onApply({
      ...draft,
      created_after: toIso(draft.created_after),
      created_before: toIso(draft.created_before),
    });
  };
  const text = (key: keyof JobFilters, label: string) => (
    <label>
      {label}
      <input value={draft[key] ?? ''} onChange={(e) => set(key, e.target.value)} name={key} />
    </label>
  );
  return (
    <form className="filters" onSubmit={submit} aria-label="Filters">
      <label>
        State
        <select name="state" value={draft.state ?? ''} onChange={(e) => onApply({ ...filters, state: (e.target.value || undefined) as JobFilters['state'] })}>
          <option value="">any</option>
          {JOB_STATES.map((state) => (
            <option key={state}>{state}</option>
          ))}
        </select>
      </label>
      {text('task_type', 'Task type')}
      {text('worker_group', 'Group')}
      {text('node', 'Node')}
      {text('submitted_by', 'Submitted by')}
      <label>
        After
        <input type="datetime-local" name="created_after" value={toLocalInput(draft.created_after)} onChange={(e) => set('created_after', e.target.value)} />
      </label>
      <label>
        Before
        <input type="datetime-local" name="created_before" value={toLocalInput(draft.created_before)} onChange={(e) => set('created_before', e.target.value)} />
      </label>
      {text('id', 'Job id')}
      <button type="submit">Apply</button>
      <button type="button" onClick={() => onApply({})}>
        Clear
      </button>
    </form>
  );
}

/** datetime-local gives local wall time without a zone; the URL and the API get an ISO instant. */
function toIso(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function toLocalInput(value: string | undefined): string {
  if (!value) return '';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
