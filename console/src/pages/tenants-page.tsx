import { useState, type FormEvent } from 'react';
import { api, ApiError, unwrap, type components } from '../api/client';
import { ErrorNotice } from '../components/common';
import { useIdentity } from '../lib/identity';
import { missingScope } from '../lib/scopes';
import { useResource } from '../lib/use-resource';

type Tenant = components['schemas']['TenantResponseDto'];
type Update = components['schemas']['UpdateTenantDto'];
const LIMITS = ['max_running_jobs', 'max_gpus', 'max_queued_jobs', 'submit_rate_per_minute'] as const;
const LIMIT_LABELS: Record<(typeof LIMITS)[number], string> = {
  max_running_jobs: 'Max running jobs',
  max_gpus: 'Max GPUs',
  max_queued_jobs: 'Max queued jobs',
  submit_rate_per_minute: 'Submissions / minute',
};

/** "gpu: running 2, gpus 4" for a tenant's per-group limits. */
function describeGroupLimits(limits: Tenant['group_limits']): string {
  const entries = Object.entries(limits);
  if (entries.length === 0) return 'none';
  return entries.map(([group, l]) => `${group}: running ${l.max_running_jobs ?? '∞'}, GPUs ${l.max_gpus ?? '∞'}`).join('; ');
}

export function TenantsPage() {
  const { whoami } = useIdentity();
  const blocked = missingScope(whoami, 'admin:tenants');
  const tenants = useResource(`tenants-${blocked ?? ''}`, () => (blocked ? Promise.resolve(null) : unwrap(api.GET('/v1/tenants'))), { live: false });
  const [editing, setEditing] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);

  if (blocked) {
    return (
      <>
        <h1>Tenants</h1>
        <p className="notice">{blocked}: tenants are an admin view.</p>
      </>
    );
  }

  const run = async (action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
      setEditing(null);
      tenants.reload();
    } catch (cause) {
      setError(cause as ApiError);
    }
  };

  const create = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const form = event.currentTarget;
    void run(async () => {
      await unwrap(api.POST('/v1/tenants', { body: { id: String(data.get('id')), name: String(data.get('name') || data.get('id')) } }));
      form.reset();
    });
  };

  const update = (tenant: Tenant, event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const body: Update = { weight: Number(data.get('weight')) };
    for (const key of LIMITS) {
      const raw = String(data.get(key) ?? '').trim();
      // Empty removes the limit.
      body[key] = raw === '' ? null : Number(raw);
    }
    const groups = String(data.get('group_limits') ?? '').trim();
    try {
      // The API merges group_limits by group: a group taken out of the JSON is removed only when sent as null.
      const removed = Object.fromEntries(Object.keys(tenant.group_limits).map((group) => [group, null]));
      body.group_limits = { ...removed, ...(groups ? (JSON.parse(groups) as Update['group_limits']) : {}) };
    } catch {
      setError(new ApiError(400, 'validation_failed', 'Group limits must be JSON, e.g. {"gpu": {"max_gpus": 2}}'));
      return;
    }
    void run(() => unwrap(api.PATCH('/v1/tenants/{id}', { params: { path: { id: tenant.id } }, body })));
  };

  return (
    <>
      <h1>Tenants</h1>
      {error ? <ErrorNotice error={error} what="the tenant change" /> : null}
      {tenants.error ? <ErrorNotice error={tenants.error} what="tenants" /> : null}
      <form className="filters card" onSubmit={create} aria-label="Create a tenant">
        <label>
          New tenant id
          <input name="id" required pattern="[a-z0-9][a-z0-9\-]{0,62}" />
        </label>
        <label>
          Name
          <input name="name" />
        </label>
        <button type="submit">Create tenant</button>
      </form>
      {tenants.data ? (
        <div className="grid-wrap">
          <table className="table" data-testid="tenants-table">
            <thead>
              <tr>
                <th scope="col">Tenant</th>
                <th scope="col">Weight</th>
                {LIMITS.map((key) => (
                  <th scope="col" key={key}>
                    {LIMIT_LABELS[key]}
                  </th>
                ))}
                <th scope="col">Group limits</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tenants.data.items.map((tenant) =>
                editing === tenant.id ? (
                  <tr key={tenant.id}>
                    <td colSpan={LIMITS.length + 4}>
                      <form className="filters" onSubmit={(e) => update(tenant, e)} aria-label={`Limits of ${tenant.id}`}>
                        <strong>{tenant.id}</strong>
                        <label>
                          Weight
                          <input name="weight" type="number" min={1} defaultValue={tenant.weight} />
                        </label>
                        {LIMITS.map((key) => (
                          <label key={key}>
                            {LIMIT_LABELS[key]}
                            <input name={key} type="number" min={0} defaultValue={tenant[key] ?? ''} placeholder="none" />
                          </label>
                        ))}
                        <label>
                          Group limits (JSON)
                          <textarea name="group_limits" rows={2} defaultValue={Object.keys(tenant.group_limits).length ? JSON.stringify(tenant.group_limits) : ''} />
                        </label>
                        <button type="submit">Save</button>
                        <button type="button" onClick={() => setEditing(null)}>
                          Cancel
                        </button>
                      </form>
                    </td>
                  </tr>
                ) : (
                  <tr key={tenant.id}>
                    <th scope="row">
                      {tenant.id}
                      <div className="muted small">{tenant.name}</div>
                    </th>
                    <td>{tenant.weight}</td>
                    {LIMITS.map((key) => (
                      <td key={key}>{tenant[key] ?? '—'}</td>
                    ))}
                    <td>{describeGroupLimits(tenant.group_limits)}</td>
                    <td>
                      <button type="button" onClick={() => setEditing(tenant.id)}>
                        Edit {tenant.id}
                      </button>
                    </td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
