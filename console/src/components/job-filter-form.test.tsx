import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { MemoryRouter, useSearchParams } from 'react-router';
import { describe, expect, it } from 'vitest';
import { filtersFromSearch, filtersToSearch } from '../lib/job-filters';
import { JobFilterForm } from './job-filter-form';

function Harness() {
  const [search, setSearch] = useSearchParams();
  const filters = filtersFromSearch(search);
  return (
    <>
      <JobFilterForm key={search.toString()} filters={filters} onApply={(next) => setSearch(filtersToSearch(next))} />
      <output data-testid="search">{search.toString()}</output>
    </>
  );
}

const renderAt = (url: string) =>
  render(
    <MemoryRouter initialEntries={[url]}>
      <Harness />
    </MemoryRouter>,
  );

describe('JobFilterForm', () => {
  it('shows the filters from the URL and writes edits back to it', async () => {
    renderAt('/jobs?state=FAILED&task_type=sleep');
    expect(screen.getByLabelText('State')).toHaveValue('FAILED');
    expect(screen.getByLabelText('Task type')).toHaveValue('sleep');

    await userEvent.clear(screen.getByLabelText('Task type'));
    await userEvent.type(screen.getByLabelText('Task type'), 'gpu_demo');
    await userEvent.type(screen.getByLabelText('Node'), 'gpu-2{Enter}');
    expect(screen.getByTestId('search')).toHaveTextContent('state=FAILED&task_type=gpu_demo&node=gpu-2');

    await userEvent.selectOptions(screen.getByLabelText('State'), 'RUNNING');
    expect(screen.getByTestId('search')).toHaveTextContent('state=RUNNING&task_type=gpu_demo&node=gpu-2');
  });

  it('clears every filter', async () => {
    renderAt('/jobs?state=QUEUED&worker_group=gpu');
    await userEvent.click(screen.getByRole('button', { name: 'Clear' }));
    expect(screen.getByTestId('search')).toBeEmptyDOMElement();
    expect(screen.getByLabelText('Group')).toHaveValue('');
  });

  it('keeps a time range as ISO instants in the URL', async () => {
    renderAt('/jobs');
    await userEvent.type(screen.getByLabelText('After'), '2026-03-04T05:06');
    await userEvent.click(screen.getByRole('button', { name: 'Apply' }));
    const search = new URLSearchParams(screen.getByTestId('search').textContent ?? '');
    expect(search.get('created_after')).toBe(new Date('2026-03-04T05:06').toISOString());
  });
});
