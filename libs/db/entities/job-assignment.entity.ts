import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { AssignmentState } from '@mlis/contracts';

@Entity({ name: 'job_assignments' })
export class JobAssignmentEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid', { name: 'job_id' }) jobId: string;
  @Column('integer') attempt: number;
  @Column('text', { name: 'node_id' }) nodeId: string;
  @Column('integer', { name: 'node_incarnation' }) nodeIncarnation: number;
  @Column('text', { name: 'group_name' }) groupName: string;
  /** The node process placed on, as registered by that incarnation; null only for attempts placed before this was recorded. */
  @Column('text', { name: 'node_hostname', nullable: true }) nodeHostname: string | null;
  @Column('integer', { name: 'node_pid', nullable: true }) nodePid: number | null;
  @Column('integer', { name: 'gpu_ids', array: true }) gpuIds: number[];
  @Column('integer') slots: number;
  @Column('integer', { name: 'cpu_millis' }) cpuMillis: number;
  @Column('integer', { name: 'mem_mb' }) memMb: number;
  @Column('text') state: AssignmentState;
  @Column('text', { nullable: true }) reason: string | null;
  @Column('timestamptz', { name: 'preempt_requested_at', nullable: true }) preemptRequestedAt: Date | null;
  @Column('uuid', { name: 'preempted_by', nullable: true }) preemptedBy: string | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt: Date;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt: Date | null;
  @Column('timestamptz', { name: 'ended_at', nullable: true }) endedAt: Date | null;
}
