import { TenantRanking } from '@mlis/metrics';
import { TenantRankingRefresh } from './tenant-ranking';

describe(TenantRankingRefresh.name, () => {
  it('ranks the top N tenants the ledger names, and keeps the last ranking when the ledger cannot answer', async () => {
    const ranking = new TenantRanking();
    const answers: (string[] | Error)[] = [['acme', 'globex'], new Error('connection refused')];
    const asked: number[] = [];
    const lines: string[] = [];
    const ledger = {
      topTenants: async (n: number) => {
        asked.push(n);
        const answer = answers.shift()!;
        if (answer instanceof Error) throw answer;
        return answer;
      },
    };
    const refresh = new TenantRankingRefresh(ledger, ranking, 2, 60_000, (line) => lines.push(line));

    await refresh.sweep();
    expect([ranking.labelOf('acme'), ranking.labelOf('globex'), ranking.labelOf('initech'), ranking.labelOf(undefined)]).toEqual([
      'acme',
      'globex',
      'other',
      'other',
    ]);
    await refresh.sweep();
    expect(ranking.labelOf('acme')).toBe('acme');
    expect(asked).toEqual([2, 2]);
    expect(lines).toEqual(['tenant ranking for metrics failed: connection refused']);
  });

  it('does nothing without a tenant label: every tenant stays other', async () => {
    const ranking = new TenantRanking();
    let asked = 0;
    const refresh = new TenantRankingRefresh({ topTenants: async () => (asked++, ['acme']) }, ranking, null, 10, () => {});
    refresh.start();
    await refresh.sweep();
    await refresh.stop();
    expect({ asked, label: ranking.labelOf('acme') }).toEqual({ asked: 0, label: 'other' });
  });
});
