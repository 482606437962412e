import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `mlis_end_attempt`: the ledger write that ends a job's live attempt and moves the job on, as one call (ADR 0028).
 * Its statements ran as eight round trips of one transaction (BEGIN, the job lock, the assignment, its GPU
 * reservations, the node, the tenant's usage, the job with its NOTIFY, COMMIT); a function runs them in the same
 * order, with the same locks, in one. `AssignmentsRepository` documents what each step is for.
 *
 * Arguments: the job; the attempt to end (null: whichever is live); the assignment's final state and reason; the job's
 * next state, result, error and result artifact; and the attempt the job must still be on for it to move (null: any).
 * Answers one row: the job's state after the call (null when there is no such job), how many attempts it ended, and
 * the group, task type and run seconds of the one it ended.
 */
export class EndAttemptFunction1765000000000 implements MigrationInterface {
  name = 'EndAttemptFunction1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION mlis_end_attempt(
        p_job_id uuid, p_attempt integer, p_assignment_state text, p_reason text,
        p_job_state text, p_result jsonb, p_error jsonb, p_result_artifact_id uuid, p_fence_attempt integer)
      RETURNS TABLE (job_state text, ended_count integer, ended_group text, ended_task_type text, run_seconds float8)
      LANGUAGE plpgsql AS $$
      DECLARE
        ended record;
        terminal boolean := p_job_state IN ('SUCCEEDED', 'FAILED', 'CANCELLED');
      BEGIN
        ended_count := 0;
        -- Lock order everywhere: job, then node, then tenant usage.
        PERFORM 1 FROM jobs WHERE id = p_job_id FOR UPDATE;
        FOR ended IN
          UPDATE job_assignments a SET state = p_assignment_state, reason = p_reason, ended_at = clock_timestamp()
          FROM jobs j
          WHERE a.job_id = p_job_id AND (p_attempt IS NULL OR a.attempt = p_attempt) AND a.state IN ('PLACED', 'RUNNING') AND j.id = a.job_id
          RETURNING a.id, a.node_id, a.slots, a.cpu_millis, a.mem_mb, a.gpu_ids, a.group_name, j.task_type, j.tenant_id,
                    extract(epoch FROM clock_timestamp() - a.started_at)::float8 AS run_seconds
        LOOP
          DELETE FROM gpu_reservations WHERE assignment_id = ended.id;
          UPDATE nodes SET used_slots = used_slots - ended.slots, used_cpu_millis = used_cpu_millis - ended.cpu_millis,
                 used_mem_mb = used_mem_mb - ended.mem_mb, used_gpus = used_gpus - cardinality(ended.gpu_ids), updated_at = now()
           WHERE id = ended.node_id;
          UPDATE tenant_usage SET running_jobs = running_jobs - 1, cpu_millis = cpu_millis - ended.cpu_millis,
                 mem_mb = mem_mb - ended.mem_mb, gpus = gpus - cardinality(ended.gpu_ids)
           WHERE tenant_id = ended.tenant_id;
          ended_count := ended_count + 1;
          ended_group := ended.group_name;
          ended_task_type := ended.task_type;
          run_seconds := ended.run_seconds;
        END LOOP;

        -- Fencing: the outcome of a superseded attempt never moves the job (its current attempt is jobs.attempts).
        UPDATE jobs SET state = p_job_state, result = COALESCE(p_result, result), error = COALESCE(p_error, error),
               result_artifact_id = COALESCE(p_result_artifact_id, result_artifact_id), pending_reason = NULL,
               pending_detail = NULL, updated_at = now(), finished_at = CASE WHEN terminal THEN now() ELSE finished_at END
         WHERE id = p_job_id AND state NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND (p_fence_attempt IS NULL OR attempts = p_fence_attempt)
        RETURNING state INTO job_state;
        IF FOUND THEN
          -- Delivered at commit: wakes the API's long-polls waiting on this job (JobFinishedFeed).
          IF terminal THEN PERFORM pg_notify('mlis_job_finished', p_job_id::text); END IF;
        ELSE
          SELECT state INTO job_state FROM jobs WHERE id = p_job_id;
        END IF;
        RETURN NEXT;
      END
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION mlis_end_attempt(uuid, integer, text, text, text, jsonb, jsonb, uuid, integer)`);
  }
}
