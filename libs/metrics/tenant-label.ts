/** The `tenant` label value of every tenant outside the top N. */
export const OTHER_TENANT = 'other';

/**
 * The N tenants with the most active (QUEUED or RUNNING) jobs, ties by id: the only tenant ids a metric may
 * carry, so a tenant label has at most N + 1 values however many tenants there are.
 */
export function topTenants(active: { tenant: string; count: number }[], n: number): Set<string> {
  const totals = new Map<string, number>();
  for (const { tenant, count } of active) totals.set(tenant, (totals.get(tenant) ?? 0) + count);
  const ranked = [...totals.entries()].filter(([, count]) => count > 0).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  return new Set(ranked.slice(0, n).map(([tenant]) => tenant));
}

/** Sums rows by their key with every tenant outside `top` folded into OTHER_TENANT. */
export function foldTenants<R extends { tenant: string; count: number }>(rows: R[], top: Set<string>): R[] {
  const folded = new Map<string, R>();
  for (const row of rows) {
    const tenant = top.has(row.tenant) ? row.tenant : OTHER_TENANT;
    const merged = { ...row, tenant };
    const key = JSON.stringify(Object.entries(merged).filter(([name]) => name !== 'count').sort());
    const existing = folded.get(key);
    if (existing) existing.count += row.count;
    else folded.set(key, merged);
  }
  return [...folded.values()];
}

/**
 * The tenants in-process metrics name by id (ADR 0041): the process's last ranking of the top N, refreshed from the
 * ledger (the API at each scrape, control every few seconds); every other tenant, and a caller with none, is `other`.
 */
export class TenantRanking {
  private ranked = new Set<string>();

  rank(top: Iterable<string>): void {
    this.ranked = new Set(top);
  }

  labelOf(tenantId: string | undefined): string {
    return tenantId !== undefined && this.ranked.has(tenantId) ? tenantId : OTHER_TENANT;
  }
}

/** The process's ranking, beside the metric objects of mlis-metrics.ts that label with it. */
export const rankedTenants = new TenantRanking();
