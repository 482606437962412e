import { DataSource } from 'typeorm';
import { MIGRATIONS } from './migrations';
import { JobAssignmentEntity } from './entities/job-assignment.entity';
import { JobEntity } from './entities/job.entity';
import { NodeEntity } from './entities/node.entity';
import { TenantEntity } from './entities/tenant.entity';
import { WorkerGroupEntity } from './entities/worker-group.entity';

export const ENTITIES = [TenantEntity, WorkerGroupEntity, NodeEntity, JobEntity, JobAssignmentEntity];

export function createDataSource(url: string, poolSize = 10): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'typeorm_migrations',
    synchronize: false,
    // JIT off: every statement here is short, and compiling one whose estimate passes jit_above_cost (say, a
    // jsonb_each with its 100-row guess over a few tables) costs 100-300 ms, more than a hundred cycles.
    // Idle connections stay open (node-postgres closes them after 10 s by default): a burst of submissions after a
    // quiet spell would otherwise open them again first, about 5 ms each and more under load (ADR 0050).
    extra: { max: poolSize, application_name: 'mlis', options: '-c jit=off', idleTimeoutMillis: 0 },
  });
}
