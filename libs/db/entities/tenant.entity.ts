import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'tenants' })
export class TenantEntity {
  @PrimaryColumn('text') id: string;
  @Column('text') name: string;
  @Column('integer', { name: 'max_running_jobs', nullable: true }) maxRunningJobs: number | null;
  @Column('integer', { name: 'max_queued_jobs', nullable: true }) maxQueuedJobs: number | null;
  @Column('integer', { name: 'max_gpus', nullable: true }) maxGpus: number | null;
  @Column('integer', { name: 'submit_rate_per_minute', nullable: true }) submitRatePerMinute: number | null;
  /** Fair-share weight: a tenant of weight 2 is entitled to twice the dominant share of a tenant of weight 1. */
  @Column('integer') weight: number;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
