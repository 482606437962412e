import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { NodeStatus } from '@mlis/contracts';

export interface GpuDevice {
  index: number;
  model: string;
  memory_mb: number;
}

@Entity({ name: 'nodes' })
export class NodeEntity {
  @PrimaryColumn('text') id: string;
  @Column('text', { name: 'group_name' }) groupName: string;
  @Column('text') hostname: string;
  @Column('integer') pid: number;
  @Column('integer') incarnation: number;
  @Column('text') status: NodeStatus;
  @Column('integer') slots: number;
  @Column('integer', { name: 'cpu_millis' }) cpuMillis: number;
  @Column('integer', { name: 'mem_mb' }) memMb: number;
  @Column('integer', { name: 'gpu_count' }) gpuCount: number;
  @Column('jsonb') gpus: GpuDevice[];
  @Column('jsonb') labels: Record<string, string>;
  @Column('integer', { name: 'used_slots' }) usedSlots: number;
  @Column('integer', { name: 'used_cpu_millis' }) usedCpuMillis: number;
  @Column('integer', { name: 'used_mem_mb' }) usedMemMb: number;
  @Column('integer', { name: 'used_gpus' }) usedGpus: number;
  @Column('timestamptz', { name: 'last_seen_at' }) lastSeenAt: Date;
  @Column('timestamptz', { name: 'registered_at' }) registeredAt: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt: Date;
  /** When this incarnation said it was stopping; null if it has not (a DEAD node without it went silent). */
  @Column('timestamptz', { name: 'left_at', nullable: true }) leftAt: Date | null;
}
