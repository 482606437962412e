import type { MetricsRepository } from '@mlis/db';
import type { TenantRanking } from '@mlis/metrics';
import { PeriodicPass } from './periodic-pass';

/** How often control ranks the tenants its metrics name: about a scrape interval. */
export const TENANT_RANKING_INTERVAL_MS = 15_000;

/**
 * With MLIS_METRICS_TENANT_LABEL=top:N, ranks the N tenants with the most active jobs into `ranking`, which control's
 * own metrics label by (the admission waits its end writes observe, ADR 0041). The API ranks at each of its scrapes;
 * control has no ledger snapshot of its own, so it asks on a timer. A failed pass keeps the last ranking.
 */
export class TenantRankingRefresh extends PeriodicPass<void> {
  constructor(
    private readonly metrics: Pick<MetricsRepository, 'topTenants'>,
    private readonly ranking: TenantRanking,
    private readonly topN: number | null,
    intervalMs: number,
    private readonly log: (line: string) => void,
  ) {
    super(intervalMs);
  }

  override start(): void {
    if (this.topN === null) return;
    super.start();
    void this.sweep();
  }

  protected async pass(): Promise<void> {
    if (this.topN === null) return;
    try {
      this.ranking.rank(await this.metrics.topTenants(this.topN));
    } catch (error) {
      this.log(`tenant ranking for metrics failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
