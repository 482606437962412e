import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-tenant limits inside one worker group: `{"gpu": {"max_gpus": 4, "max_running_jobs": 10}}`. An absent
 * field (or group) means no limit there; the tenant-wide max_running_jobs and max_gpus still apply.
 */
export class TenantGroupLimits1764500000000 implements MigrationInterface {
  name = 'TenantGroupLimits1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tenants ADD COLUMN group_limits jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(group_limits) = 'object')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tenants DROP COLUMN group_limits`);
  }
}
