import type { SchedulerNode } from '@mlis/scheduling';
import type { GpuDevice } from '../entities/node.entity';
import type { PreparedQuery } from '../prepared';

interface ChangedNodeRow {
  id: string;
  incarnation: number;
  status: SchedulerNode['status'];
  group_name: string;
  labels: Record<string, string>;
  slots: number;
  cpu_millis: number;
  mem_mb: number;
  gpus: GpuDevice[];
  used_slots: number;
  used_cpu_millis: number;
  used_mem_mb: number;
  reserved: number[];
}

interface RefreshRow {
  snapshot: string;
  node_count: number;
  silent: string[];
  changed: ChangedNodeRow[];
}

/** What a cycle reads in the same statement as its nodes (one round trip, one snapshot). */
export interface ReadAlongside {
  /** The prepared statement's name: one per `columns`. */
  name: string;
  /** Select-list entries of one value each (`(subquery) AS name`); their parameters are numbered from $3. */
  columns: string;
  values: unknown[];
}

// One statement, so one snapshot: the rows changed since `$1` (every row when it is null), the nodes not
// heard from within `$2` seconds, how many nodes exist (a deletion shows as fewer rows than held), and the
// snapshot itself for the next refresh; then the columns read alongside. A row's change_xid is the last transaction
// that changed what is read here (migration NodeChangeTracking); a transaction not visible in the previous snapshot,
// committed since or still running then, has an xid at or above that snapshot's xmin.
const refreshSql = (alongside: string) => `
  SELECT pg_current_snapshot()::text AS snapshot,
         (SELECT count(*)::int FROM nodes) AS node_count,
         ARRAY(SELECT id FROM nodes WHERE last_seen_at <= now() - make_interval(secs => $2)) AS silent,
         (SELECT COALESCE(json_agg(c), '[]') FROM (
            SELECT n.id, n.incarnation, n.status, n.group_name, n.labels, n.slots, n.cpu_millis, n.mem_mb, n.gpus,
                   n.used_slots, n.used_cpu_millis, n.used_mem_mb,
                   ARRAY(SELECT gpu_index FROM gpu_reservations r WHERE r.node_id = n.id ORDER BY gpu_index) AS reserved
            FROM nodes n
            WHERE $1::pg_snapshot IS NULL
               OR (n.change_xid >= pg_snapshot_xmin($1::pg_snapshot) AND NOT pg_visible_in_snapshot(n.change_xid, $1::pg_snapshot))
          ) c) AS changed${alongside === '' ? '' : `, ${alongside}`}`;

const NOTHING_ALONGSIDE: ReadAlongside = { name: 'mlis_cycle_nodes', columns: '', values: [] };

function toSchedulerNode(row: ChangedNodeRow, live: boolean): SchedulerNode {
  return {
    id: row.id,
    incarnation: row.incarnation,
    status: row.status,
    live,
    group: row.group_name,
    labels: row.labels,
    slots: row.slots,
    cpuMillis: row.cpu_millis,
    memMb: row.mem_mb,
    gpus: row.gpus.map((gpu) => ({ index: gpu.index, model: gpu.model, memoryMb: gpu.memory_mb })),
    usedSlots: row.used_slots,
    usedCpuMillis: row.used_cpu_millis,
    usedMemMb: row.used_mem_mb,
    reservedGpuIndices: row.reserved,
  };
}

/**
 * The scheduler's copy of every node, brought up to date at the start of each cycle by reading only
 * the node rows changed since the previous cycle's read (ADR 0010). On a busy cluster a cycle follows
 * a handful of releases, so it reads a handful of rows instead of all of them.
 *
 * Node objects are replaced, never changed in place: a cycle's planner may keep references to them.
 */
export class NodeView {
  private readonly nodes = new Map<string, SchedulerNode>();
  // The pg_snapshot of the last refresh; null forces a full read.
  private snapshot: string | null = null;

  /**
   * Call inside the cycle's transaction; the result is valid for that transaction's reads. Returns the nodes and the
   * row the statement read, `alongside`'s columns included.
   */
  async refresh<T = object>(
    query: PreparedQuery,
    liveWithinSeconds: number,
    alongside: ReadAlongside = NOTHING_ALONGSIDE,
  ): Promise<{ nodes: ReadonlyMap<string, SchedulerNode>; row: T }> {
    const read = async (snapshot: string | null) =>
      (await query<RefreshRow & T>(alongside.name, refreshSql(alongside.columns), [snapshot, liveWithinSeconds, ...alongside.values]))[0];
    let row = await read(this.snapshot);
    if (this.snapshot !== null && this.nodes.size + row.changed.filter((node) => !this.nodes.has(node.id)).length !== row.node_count) {
      // Some node row was deleted (operators and tests do): start again from a full read.
      this.forget();
      row = await read(null);
    }
    const silent = new Set(row.silent);
    for (const changed of row.changed) this.nodes.set(changed.id, toSchedulerNode(changed, !silent.has(changed.id)));
    for (const node of this.nodes.values()) {
      if (node.live === silent.has(node.id)) this.nodes.set(node.id, { ...node, live: !node.live });
    }
    this.snapshot = row.snapshot;
    return { nodes: this.nodes, row };
  }

  /** Drops everything held: the next refresh reads every node. */
  forget(): void {
    this.nodes.clear();
    this.snapshot = null;
  }
}
