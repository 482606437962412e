import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { createDataSource, expireAuditEvents, grantRuntimeRole } from '@mlis/db';
import { createLedgerDatabase } from './support/ledger-db';
import { script } from './support/stack-env';

const ROOT = join(__dirname, '../..');
const RUNTIME_ROLE = 'mlis_app';

// Audit retention (ADR 0039): the owner deletes rows older than a cut-off it sets in its transaction, oldest first and
// audited; nothing else gets past the append-only trigger, and the runtime role may not delete at all.
describe('audit retention', () => {
  let owner: DataSource;
  let runtime: DataSource;
  let ownerUrl: string;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ dataSource: owner, drop } = await createLedgerDatabase('mlis_audit_retention', 2));
    await grantRuntimeRole(owner, RUNTIME_ROLE);
    const database = (owner.options as { url: string }).url.replace(/^.*\//, '');
    ownerUrl = (owner.options as { url: string }).url;
    runtime = createDataSource(script('scripts/postgres.sh', ['url']).replace(/\/[^/]*$/, `/${database}`), 1);
    await runtime.initialize();
  });

  afterAll(async () => {
    await runtime?.destroy();
    await drop?.();
  });

  /** Audit rows written `daysAgo` days ago, as the runtime role writes them (with an explicit `at`). */
  async function writeEvents(count: number, daysAgo: number, action = 'job.submit'): Promise<void> {
    await runtime.query(
      `INSERT INTO audit_events (at, request_id, actor_tenant, actor_subject, target_tenant, action, resource, result)
       SELECT now() - make_interval(days => $1) + make_interval(secs => i), 'r-' || i, 'default', 'alice', 'default', $3, 'job/x', 'allow'
       FROM generate_series(1, $2) i`,
      [daysAgo, count, action],
    );
  }

  const actions = async (): Promise<Record<string, number>> =>
    Object.fromEntries(
      ((await owner.query(`SELECT action, CAST(count(*) AS integer) AS n FROM audit_events GROUP BY action ORDER BY action`)) as { action: string; n: number }[]).map(
        (row) => [row.action, row.n],
      ),
    );

  it('deletes the rows older than the cut-off, oldest first and in batches, each batch audited; the newer rows stay', async () => {
    await writeEvents(5, 40, 'job.old');
    await writeEvents(3, 10, 'job.recent');
    const [{ before }] = await owner.query(`SELECT now() - interval '30 days' AS before`);
    const audit = (batch: { count: number; firstId: string; lastId: string }) => ({
      requestId: 'retention-test',
      actorTenant: null,
      actorSubject: 'audit-retention',
      targetTenant: null,
      action: 'audit.expire',
      resource: 'audit_events',
      result: 'allow' as const,
      reason: `${batch.count} ${batch.firstId}-${batch.lastId}`,
    });

    const batches = [];
    for (let batch = await expireAuditEvents(owner, before, 2, audit); batch; batch = await expireAuditEvents(owner, before, 2, audit)) batches.push(batch);
    expect(batches.map((batch) => batch.count)).toEqual([2, 2, 1]);
    // Oldest first: the ids of the old rows in order, two by two.
    const ids = batches.flatMap((batch) => [Number(batch.firstId), Number(batch.lastId)]);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(await actions()).toEqual({ 'audit.expire': 3, 'job.recent': 3 });
    const reasons = (await owner.query(`SELECT reason FROM audit_events WHERE action = 'audit.expire' ORDER BY id`)) as { reason: string }[];
    expect(reasons.map((row) => row.reason.split(' ')[0])).toEqual(['2', '2', '1']);
  });

  it('refuses every other change: a delete without the cut-off or of a newer row, an update, a truncate; the runtime role may not delete at all', async () => {
    await writeEvents(2, 40, 'job.kept');
    const refused = async (db: DataSource, sql: string, setting?: string): Promise<string> =>
      db.transaction(async (m) => {
        if (setting) await m.query(`SELECT set_config('mlis.audit_expire_before', $1, true)`, [setting]);
        return m.query(sql).then(
          () => 'allowed',
          (error: Error) => error.message,
        );
      });
    const longAgo = new Date(Date.now() - 60 * 86_400_000).toISOString();
    const now = new Date().toISOString();

    expect(await refused(owner, `DELETE FROM audit_events WHERE action = 'job.kept'`)).toBe('audit_events is append-only: DELETE refused');
    // A cut-off older than the rows does not cover them.
    expect(await refused(owner, `DELETE FROM audit_events WHERE action = 'job.kept'`, longAgo)).toBe('audit_events is append-only: DELETE refused');
    expect(await refused(owner, `UPDATE audit_events SET reason = 'x' WHERE action = 'job.kept'`, now)).toBe('audit_events is append-only: UPDATE refused');
    expect(await refused(owner, `TRUNCATE audit_events`, now)).toBe('audit_events is append-only: TRUNCATE refused');
    expect(await refused(runtime, `DELETE FROM audit_events WHERE action = 'job.kept'`, now)).toMatch(/permission denied for table audit_events/);
    await expect(expireAuditEvents(runtime, new Date(), 10, () => ({}) as never)).rejects.toThrow(/permission denied/);
    expect((await actions())['job.kept']).toBe(2);
  });

  it('npm run audit:expire deletes what is older than MLIS_AUDIT_RETENTION_DAYS as the owner, and nothing with 0', async () => {
    const run = (days: string): string =>
      execFileSync('node', [join(ROOT, 'dist/db/expire-audit.js')], {
        env: { ...process.env, MLIS_MIGRATION_DATABASE_URL: ownerUrl, MLIS_AUDIT_RETENTION_DAYS: days },
        encoding: 'utf8',
      }).trim();
    await writeEvents(4, 100, 'job.ancient');
    expect(run('0')).toBe('MLIS_AUDIT_RETENTION_DAYS is 0: every audit row is kept');
    expect((await actions())['job.ancient']).toBe(4);
    expect(run('90')).toMatch(/^deleted 4 audit event\(s\) written before \S+ \(MLIS_AUDIT_RETENTION_DAYS=90\)$/);
    const after = await actions();
    expect(after['job.ancient']).toBeUndefined();
    expect(after).toMatchObject({ 'job.kept': 2, 'job.recent': 3, 'audit.expire': 4 });
  });
});
