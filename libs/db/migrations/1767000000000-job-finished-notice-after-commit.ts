import type { MigrationInterface, QueryRunner } from 'typeorm';

const OLD_SIGNATURE = 'mlis_end_attempt(uuid, integer, text, text, text, jsonb, jsonb, uuid, integer, float8)';
const NEW_SIGNATURE = 'mlis_end_attempt(uuid, integer, text, text, text, jsonb, jsonb, uuid, integer, float8, boolean)';
/** The last parameter as `pg_get_functiondef` prints it, and with `p_notify` after it. */
const OLD_LAST_PARAMETER = 'p_ran_ms double precision DEFAULT NULL::double precision)';
const NEW_LAST_PARAMETER = 'p_ran_ms double precision DEFAULT NULL::double precision, p_notify boolean DEFAULT true)';
/** The statement that notifies, as 1765100000000 wrote it, and with the caller's choice. */
const OLD_NOTIFY = `IF terminal THEN PERFORM pg_notify('mlis_job_finished', p_job_id::text); END IF;`;
const NEW_NOTIFY = `IF terminal AND p_notify THEN PERFORM pg_notify('mlis_job_finished', p_job_id::text); END IF;`;

/**
 * `mlis_end_attempt` gains a last parameter, `p_notify` (default true): whether its transaction NOTIFYs the long-polls
 * of a job it makes final. Postgres serialises the commits of notifying transactions, WAL flush included, so every
 * end write of every tenant took its turn (`npm run bench:ledger`). `AssignmentsRepository` now passes false for an
 * end write that overlaps others of its process, and notifies those once they have committed, several to a statement
 * (ADR 0043). The default keeps the in-transaction NOTIFY for a caller that does not pass it: a control of the
 * previous release, during a rolling upgrade or after a rollback.
 *
 * Otherwise the function is 1765100000000's, statement for statement: its definition is read back and edited in two
 * places, each checked to occur once, then created under the new signature in place of the old.
 */
export class JobFinishedNoticeAfterCommit1767000000000 implements MigrationInterface {
  name = 'JobFinishedNoticeAfterCommit1767000000000';

  async up(q: QueryRunner): Promise<void> {
    await redefine(q, OLD_SIGNATURE, [
      [OLD_LAST_PARAMETER, NEW_LAST_PARAMETER],
      [OLD_NOTIFY, NEW_NOTIFY],
    ]);
  }

  async down(q: QueryRunner): Promise<void> {
    await redefine(q, NEW_SIGNATURE, [
      [NEW_LAST_PARAMETER, OLD_LAST_PARAMETER],
      [NEW_NOTIFY, OLD_NOTIFY],
    ]);
  }
}

/** Drops function `signature` and creates it again with each (from, to) edit made to its definition. */
async function redefine(q: QueryRunner, signature: string, edits: [from: string, to: string][]): Promise<void> {
  const [{ definition }]: { definition: string }[] = await q.query(`SELECT pg_get_functiondef('${signature}'::regprocedure) AS definition`);
  let edited = definition;
  for (const [from, to] of edits) {
    if (edited.split(from).length !== 2) throw new Error(`the definition of ${signature} does not hold exactly one "${from}"`);
    edited = edited.replace(from, to);
  }
  // A different argument list is a different function: drop the old one, or calls that omit the new argument would be ambiguous.
  await q.query(`DROP FUNCTION ${signature}`);
  await q.query(edited);
}
