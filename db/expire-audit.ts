import { randomUUID } from 'node:crypto';
import { loadConfig } from '@mlis/config';
import { createDataSource, expireAuditEvents } from '@mlis/db';

/** Rows deleted per transaction: each batch is short, and is audited on its own. */
const BATCH = 5_000;

/**
 * `npm run audit:expire`: deletes the audit rows older than MLIS_AUDIT_RETENTION_DAYS, as the owner
 * (MLIS_MIGRATION_DATABASE_URL), oldest first, each batch audited `audit.expire` (ADR 0039); exits. 0 deletes nothing.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const days = config.auditRetentionDays;
  if (days === 0) {
    console.log('MLIS_AUDIT_RETENTION_DAYS is 0: every audit row is kept');
    return;
  }
  const owner = createDataSource(config.migrationDatabaseUrl, 1);
  await owner.initialize();
  try {
    const [{ before }] = (await owner.query(`SELECT now() - make_interval(days => $1) AS before`, [days])) as { before: Date }[];
    const requestId = randomUUID();
    let deleted = 0;
    for (;;) {
      const batch = await expireAuditEvents(owner, before, BATCH, ({ count, firstId, lastId }) => ({
        requestId,
        actorTenant: null,
        actorSubject: 'audit-retention',
        targetTenant: null,
        action: 'audit.expire',
        resource: 'audit_events',
        result: 'allow',
        reason: `${count} event(s) written before ${before.toISOString()}, ids ${firstId}-${lastId}`,
      }));
      if (!batch) break;
      deleted += batch.count;
    }
    console.log(`deleted ${deleted} audit event(s) written before ${before.toISOString()} (MLIS_AUDIT_RETENTION_DAYS=${days})`);
  } finally {
    await owner.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
