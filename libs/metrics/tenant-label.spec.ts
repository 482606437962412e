import { foldTenants, OTHER_TENANT, topTenants } from './tenant-label';

describe(topTenants.name, () => {
  it('keeps the N tenants with the most active jobs, ties by id, never one with none', () => {
    const active = [
      { tenant: 'c', count: 5 },
      { tenant: 'a', count: 2 },
      { tenant: 'b', count: 2 },
      { tenant: 'c', count: 1 },
      { tenant: 'idle', count: 0 },
    ];
    expect([...topTenants(active, 2)]).toEqual(['c', 'a']);
    expect([...topTenants(active, 10)]).toEqual(['c', 'a', 'b']);
    expect(topTenants(active, 0).size).toBe(0);
  });
});

describe(foldTenants.name, () => {
  it('sums every tenant outside the top into "other", per key, so the label has at most N + 1 values', () => {
    const rows = [
      { state: 'QUEUED', tenant: 'a', count: 3 },
      { state: 'QUEUED', tenant: 'x', count: 1 },
      { state: 'QUEUED', tenant: 'y', count: 2 },
      { state: 'RUNNING', tenant: 'y', count: 4 },
    ];
    expect(foldTenants(rows, new Set(['a']))).toEqual([
      { state: 'QUEUED', tenant: 'a', count: 3 },
      { state: 'QUEUED', tenant: OTHER_TENANT, count: 3 },
      { state: 'RUNNING', tenant: OTHER_TENANT, count: 4 },
    ]);
    // The input rows are left as they were.
    expect(rows[1]).toEqual({ state: 'QUEUED', tenant: 'x', count: 1 });
  });
});
