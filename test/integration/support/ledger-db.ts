import type { DataSource } from 'typeorm';
import { AssignmentsRepository, createDataSource, NodesRepository, SchedulingStore } from '@mlis/db';
import { dropDatabase, script } from './stack-env';

/**
 * A migrated database of its own, with the cpu and gpu groups, for specs that drive the ledger
 * directly: the running stack's nodes stay out of their placements.
 */
export async function createLedgerDatabase(
  prefix: string,
  poolSize = 10,
): Promise<{ dataSource: DataSource; nodes: NodesRepository; scheduling: SchedulingStore; assignments: AssignmentsRepository; drop: () => Promise<void> }> {
  const name = `${prefix}_${Date.now()}`;
  script('scripts/postgres.sh', ['createdb', name]);
  // As the owner: these specs migrate their database and reset tables between cases.
  const dataSource = createDataSource(script('scripts/postgres.sh', ['owner-url']).replace(/\/[^/]*$/, `/${name}`), poolSize);
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  const nodes = new NodesRepository(dataSource);
  await nodes.ensureWorkerGroups(['cpu', 'gpu']);
  const drop = async (): Promise<void> => {
    await dataSource.destroy();
    dropDatabase(name);
  };
  return { dataSource, nodes, scheduling: new SchedulingStore(dataSource), assignments: new AssignmentsRepository(dataSource), drop };
}

// Each query lists what breaks one promise of the ledger; an empty result means the promise holds.
const INVARIANTS: Record<string, string> = {
  // Node counters equal the sum of the node's live assignments, and never pass capacity.
  countersDrift: `
    SELECT n.id FROM nodes n
    LEFT JOIN job_assignments a ON a.node_id = n.id AND a.state IN ('PLACED', 'RUNNING')
    GROUP BY n.id
    HAVING n.used_slots <> count(a.id)
        OR n.used_cpu_millis <> coalesce(sum(a.cpu_millis), 0)
        OR n.used_mem_mb <> coalesce(sum(a.mem_mb), 0)
        OR n.used_gpus <> coalesce(sum(cardinality(a.gpu_ids)), 0)
        OR n.used_slots > n.slots OR n.used_cpu_millis > n.cpu_millis OR n.used_mem_mb > n.mem_mb OR n.used_gpus > n.gpu_count`,
  // No GPU id is held by two live assignments.
  gpuDoubleBooked: `
    SELECT a.node_id, g FROM job_assignments a, unnest(a.gpu_ids) g
    WHERE a.state IN ('PLACED', 'RUNNING') GROUP BY a.node_id, g HAVING count(*) > 1`,
  // Every GPU a live assignment holds has its reservation row, and no ended assignment keeps one.
  reservationMissing: `
    (SELECT a.node_id, g, a.id FROM job_assignments a, unnest(a.gpu_ids) g WHERE a.state IN ('PLACED', 'RUNNING'))
    EXCEPT (SELECT node_id, gpu_index, assignment_id FROM gpu_reservations)`,
  reservationOrphaned: `
    SELECT r.node_id, r.gpu_index FROM gpu_reservations r
    JOIN job_assignments a ON a.id = r.assignment_id WHERE a.state NOT IN ('PLACED', 'RUNNING')`,
  // Tenant usage equals the sum of the tenant's live assignments, and stays within its quotas.
  tenantUsageDrift: `
    SELECT t.id FROM tenants t
    LEFT JOIN tenant_usage u ON u.tenant_id = t.id
    LEFT JOIN (SELECT j.tenant_id, count(*) AS jobs, sum(a.cpu_millis) AS cpu, sum(a.mem_mb) AS mem, sum(cardinality(a.gpu_ids)) AS gpus
               FROM job_assignments a JOIN jobs j ON j.id = a.job_id WHERE a.state IN ('PLACED', 'RUNNING') GROUP BY j.tenant_id) live
      ON live.tenant_id = t.id
    WHERE coalesce(u.running_jobs, 0) <> coalesce(live.jobs, 0) OR coalesce(u.cpu_millis, 0) <> coalesce(live.cpu, 0)
       OR coalesce(u.mem_mb, 0) <> coalesce(live.mem, 0) OR coalesce(u.gpus, 0) <> coalesce(live.gpus, 0)
       OR coalesce(u.gpus, 0) > coalesce(t.max_gpus, 2147483647) OR coalesce(u.running_jobs, 0) > coalesce(t.max_running_jobs, 2147483647)`,
  // Inside a worker group, a tenant stays within that group's limits.
  groupLimitPassed: `
    SELECT t.id, g.key AS group_name FROM tenants t CROSS JOIN LATERAL jsonb_each(t.group_limits) g
    CROSS JOIN LATERAL (SELECT count(*) AS jobs, coalesce(sum(cardinality(a.gpu_ids)), 0) AS gpus
                        FROM job_assignments a JOIN jobs j ON j.id = a.job_id
                        WHERE j.tenant_id = t.id AND a.group_name = g.key AND a.state IN ('PLACED', 'RUNNING')) live
    WHERE live.jobs > (g.value->>'max_running_jobs')::int OR live.gpus > (g.value->>'max_gpus')::int`,
  // A job has at most one live attempt, and an ended job none.
  twoLiveAttempts: `
    SELECT job_id FROM job_assignments WHERE state IN ('PLACED', 'RUNNING') GROUP BY job_id HAVING count(*) > 1`,
  liveAttemptOfEndedJob: `
    SELECT a.job_id FROM job_assignments a JOIN jobs j ON j.id = a.job_id
    WHERE a.state IN ('PLACED', 'RUNNING') AND j.state IN ('SUCCEEDED', 'FAILED', 'CANCELLED')`,
  // A job is never placed again on the node incarnation that lost it.
  placedOnLoser: `
    SELECT a.id FROM job_assignments a JOIN job_assignments lost
      ON lost.job_id = a.job_id AND lost.state = 'LOST' AND lost.node_id = a.node_id AND lost.node_incarnation = a.node_incarnation
    WHERE a.attempt > lost.attempt`,
};

/** The ledger's invariants that do not hold, by name, with the rows that break them; {} when all hold. */
export async function ledgerInvariantViolations(dataSource: DataSource): Promise<Record<string, unknown[]>> {
  const violations: Record<string, unknown[]> = {};
  for (const [name, sql] of Object.entries(INVARIANTS)) {
    const rows: unknown[] = await dataSource.query(sql);
    if (rows.length > 0) violations[name] = rows;
  }
  return violations;
}
