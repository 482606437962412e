import type { DataSource, EntityManager } from 'typeorm';
import type { AuditEventInput, AuditRecorder } from '@mlis/contracts';
import type { Queryable } from './sql';

/** One stored audit row. */
export interface AuditEventRecord extends AuditEventInput {
  id: string;
  at: Date;
  occurrences: number;
}

export interface AuditFilters {
  action?: string;
  result?: 'allow' | 'deny';
  actorTenant?: string;
  targetTenant?: string;
  /** Exactly this resource, e.g. job/<id>. */
  resource?: string;
  /** Inclusive lower bound on `at`. */
  since?: Date;
  /** Exclusive upper bound on `at`. */
  until?: Date;
}

/** A position in the export order: the transaction that wrote an event, then its id. */
export interface AuditExportPosition {
  xid: string;
  id: string;
}

export interface AuditExportPage {
  events: (AuditEventRecord & { position: AuditExportPosition })[];
  /** More events are ready for export after the last one. */
  more: boolean;
}

interface AuditRow {
  id: string;
  at: Date;
  request_id: string;
  actor_tenant: string | null;
  actor_subject: string | null;
  target_tenant: string | null;
  action: string;
  resource: string;
  result: 'allow' | 'deny';
  reason: string | null;
  occurrences: number;
}

/**
 * The INSERT of one audit row, its parameters numbered from `$first`: `AuditRepository.record`'s statement, and the
 * audit part of a statement that writes its row together with the change it records (`JobsRepository.insert`).
 */
export function auditInsert(event: AuditEventInput, first: number): { sql: string; params: unknown[] } {
  const params = [
    event.requestId,
    event.actorTenant,
    event.actorSubject,
    event.targetTenant,
    event.action,
    event.resource,
    event.result,
    event.reason,
    event.occurrences ?? 1,
  ];
  return {
    sql: `INSERT INTO audit_events (request_id, actor_tenant, actor_subject, target_tenant, action, resource, result, reason, occurrences)
          VALUES (${params.map((_, i) => `$${first + i}`).join(', ')})`,
    params,
  };
}

/** Writes one audit row with `db`: a transaction's manager, so the row commits or rolls back with the change it records. */
export async function recordAudit(db: Queryable, event: AuditEventInput): Promise<void> {
  const insert = auditInsert(event, 1);
  await db.query(insert.sql, insert.params);
}

/** What one batch of `expireAuditEvents` deleted: how many rows, and the lowest and highest id among them. */
export interface ExpiredAuditBatch {
  count: number;
  firstId: string;
  lastId: string;
}

/**
 * Deletes up to `limit` audit rows written before `before`, oldest first, in one transaction with the audit row `audit`
 * makes of the batch; returns the batch, or null when nothing was older. `owner` must connect as the owner of
 * audit_events: the runtime role may not delete, and the append-only trigger lets a delete through only for rows older
 * than the cut-off the transaction sets (ADR 0039).
 */
export async function expireAuditEvents(
  owner: DataSource,
  before: Date,
  limit: number,
  audit: (batch: ExpiredAuditBatch) => AuditEventInput,
): Promise<ExpiredAuditBatch | null> {
  return owner.transaction(async (m) => {
    await m.query(`SELECT set_config('mlis.audit_expire_before', $1, true)`, [before.toISOString()]);
    const [batch] = (await m.query(
      `WITH expired AS (
         DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < $1 ORDER BY at, id LIMIT $2) RETURNING id
       )
       SELECT CAST(count(*) AS integer) AS count, CAST(min(id) AS text) AS first_id, CAST(max(id) AS text) AS last_id FROM expired`,
      [before, limit],
    )) as { count: number; first_id: string | null; last_id: string | null }[];
    if (batch.count === 0) return null;
    const expired = { count: batch.count, firstId: batch.first_id!, lastId: batch.last_id! };
    await recordAudit(m, audit(expired));
    return expired;
  });
}

/**
 * The append-only audit log. `record` throws when the insert fails: callers auditing a state change
 * let that fail the request; callers auditing a denial catch and log it (best effort, the request is
 * refused anyway).
 */
export class AuditRepository implements AuditRecorder {
  constructor(private readonly dataSource: DataSource) {}

  /** Inside `manager`'s transaction when given, so the row commits or rolls back with the change. */
  async record(event: AuditEventInput, manager?: EntityManager): Promise<void> {
    await recordAudit(manager ?? this.dataSource.manager, event);
  }

  /**
   * Newest first (by id, which follows insertion order); `beforeId` continues after a previous page.
   * The ORDER BY names the table's column: a bare `id` would sort the text alias, putting 9 before 89.
   */
  async list(filters: AuditFilters, beforeId: string | undefined, limit: number): Promise<AuditEventRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown): void => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filters.action !== undefined) add('action = ?', filters.action);
    if (filters.result !== undefined) add('result = ?', filters.result);
    if (filters.actorTenant !== undefined) add('actor_tenant = ?', filters.actorTenant);
    if (filters.targetTenant !== undefined) add('target_tenant = ?', filters.targetTenant);
    if (filters.resource !== undefined) add('resource = ?', filters.resource);
    if (filters.since !== undefined) add('at >= ?', filters.since);
    if (filters.until !== undefined) add('at < ?', filters.until);
    if (beforeId !== undefined) add('id < CAST(? AS bigint)', beforeId);
    params.push(limit);
    const rows: AuditRow[] = await this.dataSource.query(
      `SELECT CAST(id AS text) AS id, at, request_id, actor_tenant, actor_subject, target_tenant, action, resource, result, reason, occurrences
       FROM audit_events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY audit_events.id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toRecord);
  }

  /**
   * Up to `limit` events after `after` in export order: by the transaction that wrote them, then by id, and only those
   * whose transaction is older than every transaction still running (the snapshot's xmin). Every transaction before
   * that horizon has ended, so no event can appear later before the last one returned: following the positions misses
   * none and repeats none, unlike paging by id, whose order is not the commit order (ADR 0035). As in `list`, the
   * ORDER BY names the table's columns, not the text aliases.
   */
  async exportAfter(after: AuditExportPosition | null, limit: number): Promise<AuditExportPage> {
    const rows: (AuditRow & { xid: string })[] = await this.dataSource.query(
      `SELECT CAST(id AS text) AS id, xid::text AS xid, at, request_id, actor_tenant, actor_subject, target_tenant, action, resource, result, reason, occurrences
       FROM audit_events
       WHERE xid < pg_snapshot_xmin(pg_current_snapshot())
         AND ($1::xid8 IS NULL OR (xid, id) > ($1::xid8, CAST($2 AS bigint)))
       ORDER BY audit_events.xid, audit_events.id LIMIT $3`,
      [after?.xid ?? null, after?.id ?? null, limit + 1],
    );
    return {
      events: rows.slice(0, limit).map((row) => ({ ...toRecord(row), position: { xid: row.xid, id: row.id } })),
      more: rows.length > limit,
    };
  }
}

function toRecord(row: AuditRow): AuditEventRecord {
  return {
    id: row.id,
    at: row.at,
    requestId: row.request_id,
    actorTenant: row.actor_tenant,
    actorSubject: row.actor_subject,
    targetTenant: row.target_tenant,
    action: row.action,
    resource: row.resource,
    result: row.result,
    reason: row.reason,
    occurrences: row.occurrences,
  };
}
