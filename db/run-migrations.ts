import { loadConfig } from '@mlis/config';
import { createDataSource, grantRuntimeRole, roleOf } from '@mlis/db';

/**
 * `npm run migration:run`: applies pending migrations as the owner (MLIS_MIGRATION_DATABASE_URL), then grants
 * the runtime role (the user of DATABASE_URL) what it may do, and exits.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const dataSource = createDataSource(config.migrationDatabaseUrl);
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    console.log(applied.length ? `applied: ${applied.map((m) => m.name).join(', ')}` : 'migrations: up to date');
    const owner = roleOf(config.migrationDatabaseUrl);
    const runtime = roleOf(config.databaseUrl);
    if (runtime === owner) {
      console.log(`runtime role ${runtime} is the owner: set DATABASE_URL to another role so it cannot alter audit_events`);
    } else {
      await grantRuntimeRole(dataSource, runtime);
      console.log(`runtime role ${runtime}: ledger read/write, audit_events INSERT/SELECT only`);
    }
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
