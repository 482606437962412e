import type { DataSource } from 'typeorm';

/** The role a connection URL logs in as. */
export function roleOf(url: string): string {
  return decodeURIComponent(new URL(url).username);
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Run as the owner after migrations: the runtime role may read and write the ledger, but only insert and read
 * audit_events. Not being the owner, it cannot disable the append-only triggers or drop the table either.
 * Idempotent; re-run after every migration so new tables are covered.
 */
export async function grantRuntimeRole(dataSource: DataSource, role: string): Promise<void> {
  const r = quoteIdent(role);
  await dataSource.transaction(async (m) => {
    await m.query(`GRANT USAGE ON SCHEMA public TO ${r}`);
    await m.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${r}`);
    await m.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${r}`);
    await m.query(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON typeorm_migrations FROM ${r}`);
    await m.query(`REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_events FROM ${r}`);
  });
}
