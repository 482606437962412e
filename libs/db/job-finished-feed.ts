import { Client } from 'pg';

/**
 * The Postgres channel a transaction notifies, with the job id as payload, when it moves a job to a final state.
 * The ledger function `mlis_end_attempt` (migration 1765000000000) names it too.
 */
export const JOB_FINISHED_CHANNEL = 'mlis_job_finished';

const RECONNECT_MS = 1_000;

type Listener = () => void;

/**
 * One LISTEN connection per process, fanned out to every in-process waiter by job id. A notification is sent at commit,
 * so a waiter woken by it reads the final row. While the connection is down nothing is heard; on every (re)connect all
 * waiters are woken once to re-read, so a final state committed in the gap is not missed.
 */
export class JobFinishedFeed {
  private readonly listeners = new Map<string, Set<Listener>>();
  private client: Client | null = null;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly databaseUrl: string,
    private readonly warn: (message: string) => void = () => undefined,
  ) {}

  /** Connects in the background (and again after a failure); never throws. */
  start(): void {
    void this.connect();
  }

  /** Calls `listener` when job `jobId` may have become final; returns the unsubscribe function. */
  subscribe(jobId: string, listener: Listener): () => void {
    let set = this.listeners.get(jobId);
    if (!set) this.listeners.set(jobId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(jobId) === set) this.listeners.delete(jobId);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new Client({ connectionString: this.databaseUrl });
    let gone = false;
    // Once per connection, however it failed ('error', 'end' or a rejected connect, in any order and number).
    const lost = (error?: unknown) => {
      if (gone) return;
      gone = true;
      if (this.client === client) this.client = null;
      client.removeAllListeners();
      client.on('error', () => undefined);
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.warn(`job-finished feed lost its Postgres connection (${String(error ?? 'ended')}); waiters re-read on their timer`);
      this.retry = setTimeout(() => void this.connect(), RECONNECT_MS);
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (message) => {
      if (message.channel === JOB_FINISHED_CHANNEL && message.payload) this.wake(this.listeners.get(message.payload));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${JOB_FINISHED_CHANNEL}`);
    } catch (error) {
      lost(error);
      return;
    }
    if (gone) return;
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    for (const set of this.listeners.values()) this.wake(set);
  }

  private wake(set: Set<Listener> | undefined): void {
    for (const listener of [...(set ?? [])]) listener();
  }
}
