import { loadConfig } from '../libs/config';
import { createDataSource } from '../libs/db';

/** `npm run migration:run`: applies pending migrations and exits. */
async function main(): Promise<void> {
  const dataSource = createDataSource(loadConfig().databaseUrl);
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    console.log(applied.length ? `applied: ${applied.map((m) => m.name).join(', ')}` : 'migrations: up to date');
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
