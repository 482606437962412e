import { Column, Entity, PrimaryColumn, VirtualColumn } from 'typeorm';
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
  /**
   * The higher-priority job this attempt was asked to give way to (the `preempted_by` column), only when it belongs to
   * the same tenant: preemption crosses tenants, and another tenant's job id is not this tenant's to see.
   */
  @VirtualColumn({
    type: 'uuid',
    query: (alias) =>
      `SELECT preemptor.id FROM jobs preemptor, jobs own
        WHERE preemptor.id = ${alias}.preempted_by AND own.id = ${alias}.job_id AND preemptor.tenant_id = own.tenant_id`,
  })
  preemptedBy: string | null;
  @Column('timestamptz', { name: 'created_at' }) createdAt: Date;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt: Date | null;
  @Column('timestamptz', { name: 'ended_at', nullable: true }) endedAt: Date | null;
}
