import type { DataSource, EntityManager } from 'typeorm';

/** Every token of `subject` in `tenantId` issued at or before `revokedAt` is refused. */
export interface TokenRevocation {
  tenantId: string;
  subject: string;
  revokedAt: Date;
  revokedBy: string;
}

interface RevocationRow {
  tenant_id: string;
  subject: string;
  revoked_at: Date;
  revoked_by: string;
}

const toRevocation = (row: RevocationRow): TokenRevocation => ({
  tenantId: row.tenant_id,
  subject: row.subject,
  revokedAt: row.revoked_at,
  revokedBy: row.revoked_by,
});

/** Revoked user tokens, by holder (ADR 0037). The table stays small: one row per holder ever revoked. */
export class TokenRevocationsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Revokes every token of the holder issued up to now (a second revocation moves the cut-off on), with the audit row
   * `audit` writes in the same transaction.
   */
  async revoke(tenantId: string, subject: string, revokedBy: string, audit: (manager: EntityManager) => Promise<void>): Promise<TokenRevocation> {
    return this.dataSource.transaction(async (m) => {
      const [row]: RevocationRow[] = await m.query(
        `INSERT INTO token_revocations AS r (tenant_id, subject, revoked_at, revoked_by) VALUES ($1, $2, now(), $3)
         ON CONFLICT (tenant_id, subject) DO UPDATE SET revoked_at = now(), revoked_by = EXCLUDED.revoked_by
         RETURNING tenant_id, subject, revoked_at, revoked_by`,
        [tenantId, subject, revokedBy],
      );
      await audit(m);
      return toRevocation(row);
    });
  }

  /** Every revocation, by tenant then subject. */
  async list(): Promise<TokenRevocation[]> {
    const rows: RevocationRow[] = await this.dataSource.query(
      `SELECT tenant_id, subject, revoked_at, revoked_by FROM token_revocations ORDER BY tenant_id, subject`,
    );
    return rows.map(toRevocation);
  }
}
