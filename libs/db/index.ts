export * from './data-source';
export * from './entities/tenant.entity';
export * from './entities/worker-group.entity';
export * from './entities/node.entity';
export * from './entities/job.entity';
export * from './entities/job-assignment.entity';
export * from './ledger.repository';
