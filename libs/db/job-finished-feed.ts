import { Client } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * The Postgres channel that carries, with the job id as payload, the news that a job reached a final state: sent at the
 * commit of the ledger write that made it final by `mlis_end_attempt` itself (a write alone in its process, or a
 * caller of an earlier release), or by `JobFinishedNotices` after that commit (a write that overlapped others; ADR 0043).
 */
export const JOB_FINISHED_CHANNEL = 'mlis_job_finished';

/** Most job ids one notifying statement carries; more wait for the next statement. */
const NOTICES_PER_STATEMENT = 1_000;

const RECONNECT_MS = 1_000;

type Listener = () => void;

/**
 * Sends the job-finished notifications of one process's ledger writes, each after the commit of the write that made
 * its job final (ADR 0043). Postgres serialises the commits of notifying transactions, so the ids that arrive while a
 * statement is in flight go out together in the next one: one notifying commit per round trip, however many jobs end.
 * A notification that is lost (a failed statement, a process that stops before sending it) costs each waiter on that
 * job one re-read on its timer.
 */
export class JobFinishedNotices {
  private pending: string[] = [];
  private sending: Promise<void> | null = null;

  constructor(
    private readonly dataSource: DataSource,
    private readonly warn: (message: string) => void = () => undefined,
  ) {}

  /** Queues job `jobId`'s notification: sent at once, or with the next statement while one is in flight. Never throws. */
  send(jobId: string): void {
    this.pending.push(jobId);
    this.sending ??= this.sendPending();
  }

  /** Resolves once every notification queued so far has been sent, or its statement has failed. */
  async settled(): Promise<void> {
    while (this.sending) await this.sending;
  }

  private async sendPending(): Promise<void> {
    while (this.pending.length > 0) {
      const jobIds = this.pending.splice(0, NOTICES_PER_STATEMENT);
      try {
        await this.dataSource.query(`SELECT count(pg_notify($1, id)) FROM unnest($2::text[]) AS id`, [JOB_FINISHED_CHANNEL, jobIds]);
      } catch (error) {
        this.warn(`notifying the end of ${jobIds.length} job(s) failed (${String(error)}); their waiters re-read on their timer`);
      }
    }
    // In the same tick as the loop's last check, so a send() never finds a statement in flight that will not take its id.
    this.sending = null;
  }
}

/**
 * One LISTEN connection per process, fanned out to every in-process waiter by job id. A notification is sent once the
 * final state has committed (`JobFinishedNotices`), so a waiter woken by it reads the final row. While the connection
 * is down nothing is heard; on every (re)connect all waiters are woken once to re-read, so a final state committed in
 * the gap is not missed.
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

  /**
   * Whether the feed hears notifications now. While it does, every final state committed since it (re)connected has
   * woken its job's listeners, or will once its notification arrives.
   */
  isListening(): boolean {
    return this.client !== null;
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
