import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, env, killNode, poll, submit, TERMINAL, waitForJob, withDb } from './support/api';

/** The node's log file written by scripts/stack.sh. */
function nodeLog(nodeId: string): string {
  return readFileSync(join(env.processEnv.MLIS_STATE_DIR, `node-${nodeId}.log`), 'utf8');
}

async function nodeStatus(nodeId: string): Promise<{ status: string; incarnation: number }> {
  const { body } = await api('GET', '/v1/workers');
  return body.items.find((n: any) => n.node_id === nodeId);
}

/** The ledger's row for one attempt, with its end time at full precision. */
async function attemptRow(jobId: string, attempt: number): Promise<unknown> {
  return withDb(
    async (db) =>
      (
        await db.query(
          `SELECT state, reason, ended_at::text AS ended_at, node_incarnation FROM job_assignments WHERE job_id = $1 AND attempt = $2`,
          [jobId, attempt],
        )
      ).rows[0],
  );
}

describe('fencing a partitioned node', () => {
  jest.setTimeout(120_000);

  it('a node frozen until it is declared DEAD cannot finish its old attempt or touch the ledger for it when it thaws', async () => {
    const accepted = await submit({ task_type: 'sleep', params: { seconds: 6 }, cpu: 1, mem_mb: 256, gpu: 0 });
    const running = await waitForJob(accepted.id, (j) => j.latest_assignment?.state === 'RUNNING');
    const zombie = running.latest_assignment.node_id as string;
    const { incarnation } = await nodeStatus(zombie);

    // SIGSTOP: the process keeps its state but says nothing, like a node behind a network partition.
    killNode(zombie, 'SIGSTOP');
    let lost: any;
    let lostRow: unknown;
    try {
      const replaced = await waitForJob(accepted.id, (j) => j.assignments.length === 2 && j.assignments[1].state === 'RUNNING');
      expect(replaced.assignments[1].node_id).not.toBe(zombie);
      await poll(`${zombie} DEAD`, async () => ((await nodeStatus(zombie)).status === 'DEAD' ? true : undefined));
      lost = replaced.assignments[0];
      lostRow = await attemptRow(accepted.id, 1);
    } finally {
      killNode(zombie, 'SIGCONT');
    }
    expect(lost).toMatchObject({ attempt: 1, state: 'LOST', node_id: zombie });

    // Thawed, the zombie finds itself unknown, registers again as a new incarnation, and its old attempt
    // is refused by Temporal (the activity timed out) — the log shows it was cancelled, not completed.
    await poll(`${zombie} back with a new incarnation`, async () => {
      const now = await nodeStatus(zombie);
      return now.status === 'ACTIVE' && now.incarnation > incarnation ? now : undefined;
    });
    await poll(`${zombie} to give up attempt 1`, async () =>
      new RegExp(`job ${accepted.id} attempt 1 \\(sleep\\) cancelled`).test(nodeLog(zombie)) ? true : undefined,
    );

    const done = await waitForJob(accepted.id, (j) => TERMINAL.includes(j.state));
    expect(done.state).toBe('SUCCEEDED');
    expect(done.attempts).toBe(2);
    expect(done.result).toEqual({ slept: 6 });
    // Attempt 1 is exactly as the workflow left it when the lease was lost: LOST, ended once, same reason.
    expect(await attemptRow(accepted.id, 1)).toEqual(lostRow);
    expect(lostRow).toMatchObject({ state: 'LOST', reason: expect.stringMatching(/HEARTBEAT|SCHEDULE_TO_START/) });
    expect(await attemptRow(accepted.id, 2)).toMatchObject({ state: 'SUCCEEDED' });
    const counters = await withDb(async (db) => (await db.query(`SELECT used_slots FROM nodes WHERE id = $1`, [zombie])).rows[0]);
    expect(counters.used_slots).toBe(0);
  });
});
