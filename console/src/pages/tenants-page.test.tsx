import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, type components } from '../api/client';
import { TenantsPage } from './tenants-page';

vi.mock('../lib/identity', () => ({ useIdentity: () => ({ whoami: { subject: 'admin', tenant: 'default', scopes: ['admin:tenants'] } }) }));
vi.mock('../lib/live', () => ({ useLive: () => ({ tick: 0, markUpdated: () => {} }) }));

type Tenant = components['schemas']['TenantResponseDto'];
const tenant: Tenant = {
  id: 'team-g',
  name: 'Team G',
  max_queued_jobs: null,
  submit_rate_per_minute: null,
  max_running_jobs: null,
  max_gpus: null,
  max_artifact_bytes: null,
  weight: 1,
  group_limits: { gpu: { max_running_jobs: 2, max_gpus: 4 }, cpu: { max_running_jobs: 10, max_gpus: null } },
  created_at: '2025-01-01T00:00:00.000Z',
  updated_at: '2025-01-01T00:00:00.000Z',
};
const ok = (data: unknown) => Promise.resolve({ data, response: new Response(null, { status: 200 }) }) as never;

afterEach(() => vi.restoreAllMocks());

describe('TenantsPage', () => {
  it('sends null for a group taken out of the group limits (the API merges them by group)', async () => {
    vi.spyOn(api, 'GET').mockImplementation(() => ok({ items: [tenant] }));
    const patch = vi.spyOn(api, 'PATCH').mockImplementation(() => ok(tenant));
    render(<TenantsPage />);

    await userEvent.click(await screen.findByRole('button', { name: 'Edit team-g' }));
    fireEvent.change(screen.getByLabelText('Group limits (JSON)'), { target: { value: '{"gpu": {"max_gpus": 2}}' } });
    await userEvent.click(screen.getByRole('button', { name: 'Save' }));

    await waitFor(() => expect(patch).toHaveBeenCalledTimes(1));
    expect(patch.mock.calls[0][1]).toEqual(expect.objectContaining({ body: expect.objectContaining({ group_limits: { gpu: { max_gpus: 2 }, cpu: null } }) }));
  });

  it('removes every group when the JSON is emptied', async () => {
    vi.spyOn(api, 'GET').mockImplementation(() => ok({ items: [tenant] }));
    const patch = vi.spyOn(api, 'PATCH').mockImplementation(() => ok(tenant));
    render(<TenantsPage />);

    await userEvent.click(await screen.findByRole('button', { name: 'Edit team-g' }));
    await userEvent.clear(screen.getByLabelText('Group limits (JSON)'));
    await userEvent.click(screen.getByRole('button', { name: 'Save' }));

    await waitFor(() => expect(patch).toHaveBeenCalledTimes(1));
    expect(patch.mock.calls[0][1]).toEqual(expect.objectContaining({ body: expect.objectContaining({ group_limits: { gpu: null, cpu: null } }) }));
  });
});
