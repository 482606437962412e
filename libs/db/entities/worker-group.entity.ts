import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'worker_groups' })
export class WorkerGroupEntity {
  @PrimaryColumn('text') name: string;
  @Column('text') description: string;
  @Column('integer', { name: 'lease_seconds', nullable: true }) leaseSeconds: number | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
