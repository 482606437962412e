import type { MigrationInterface, QueryRunner } from 'typeorm';
import { EndAttemptFunction1765000000000 } from './1765000000000-end-attempt-function';

/**
 * `mlis_end_attempt` learns an attempt's run time (ADR 0030). A node reports an attempt's start only once it has run
 * for a short delay; one that succeeds sooner hands its run time back with its result instead. The write then
 * back-dates the attempt's `started_at` by `p_ran_ms` (never before the attempt was placed), and answers the job's
 * admission wait when this made the job's first attempt to have started, as the node's start report does.
 *
 * `p_ran_ms` is last and defaults to null, so a caller of the nine-argument form keeps working; the answer gains
 * `admission_wait_seconds`. Otherwise the function is 1765000000000's, statement for statement.
 */
export class EndAttemptRunTime1765100000000 implements MigrationInterface {
  name = 'EndAttemptRunTime1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION mlis_end_attempt(uuid, integer, text, text, text, jsonb, jsonb, uuid, integer)`);
    await q.query(`
      CREATE FUNCTION mlis_end_attempt(
        p_job_id uuid, p_attempt integer, p_assignment_state text, p_reason text,
        p_job_state text, p_result jsonb, p_error jsonb, p_result_artifact_id uuid, p_fence_attempt integer,
        p_ran_ms float8 DEFAULT NULL)
      RETURNS TABLE (job_state text, ended_count integer, ended_group text, ended_task_type text, run_seconds float8,
                     admission_wait_seconds float8)
      LANGUAGE plpgsql AS $$
      DECLARE
        ended record;
        terminal boolean := p_job_state IN ('SUCCEEDED', 'FAILED', 'CANCELLED');
      BEGIN
        ended_count := 0;
        -- Lock order everywhere: job, then node, then tenant usage.
        PERFORM 1 FROM jobs WHERE id = p_job_id FOR UPDATE;
        FOR ended IN
          -- "before" is the row as it was: whether this write is the one that gives the attempt its start.
          UPDATE job_assignments a SET state = p_assignment_state, reason = p_reason, ended_at = clock_timestamp(),
                 started_at = CASE WHEN a.started_at IS NULL AND p_ran_ms IS NOT NULL
                                   THEN GREATEST(a.created_at, clock_timestamp() - make_interval(secs => p_ran_ms / 1000))
                                   ELSE a.started_at END
          FROM jobs j, job_assignments before
          WHERE a.job_id = p_job_id AND (p_attempt IS NULL OR a.attempt = p_attempt) AND a.state IN ('PLACED', 'RUNNING')
            AND j.id = a.job_id AND before.id = a.id
          RETURNING a.id, a.node_id, a.slots, a.cpu_millis, a.mem_mb, a.gpu_ids, a.group_name, j.task_type, j.tenant_id,
                    extract(epoch FROM clock_timestamp() - a.started_at)::float8 AS run_seconds,
                    CASE WHEN before.started_at IS NULL AND a.started_at IS NOT NULL
                              AND NOT EXISTS (SELECT 1 FROM job_assignments p
                                               WHERE p.job_id = a.job_id AND p.attempt <> a.attempt AND p.started_at IS NOT NULL)
                         THEN extract(epoch FROM a.started_at - j.created_at)::float8 END AS admission_wait_seconds
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
          admission_wait_seconds := ended.admission_wait_seconds;
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
    await q.query(`DROP FUNCTION mlis_end_attempt(uuid, integer, text, text, text, jsonb, jsonb, uuid, integer, float8)`);
    await new EndAttemptFunction1765000000000().up(q);
  }
}
