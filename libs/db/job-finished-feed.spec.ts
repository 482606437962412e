import type { DataSource } from 'typeorm';
import { JOB_FINISHED_CHANNEL, JobFinishedNotices } from './job-finished-feed';

/** A DataSource whose statements the test answers one at a time, in order. */
function fakeDataSource() {
  const statements: { sql: string; jobIds: string[]; answer: (error?: Error) => void }[] = [];
  const dataSource = {
    query: (sql: string, [channel, jobIds]: [string, string[]]) => {
      expect(channel).toBe(JOB_FINISHED_CHANNEL);
      return new Promise<void>((resolve, reject) => statements.push({ sql, jobIds, answer: (error) => (error ? reject(error) : resolve()) }));
    },
  } as unknown as DataSource;
  return { dataSource, statements };
}

const flush = () => new Promise((done) => setImmediate(done));

describe(JobFinishedNotices.name, () => {
  it('sends a lone end at once, and the ends that arrive while a statement is in flight together in the next', async () => {
    const { dataSource, statements } = fakeDataSource();
    const notices = new JobFinishedNotices(dataSource);
    notices.send('a');
    expect(statements.map((s) => s.jobIds)).toEqual([['a']]);
    expect(statements[0].sql).toContain('pg_notify');

    notices.send('b');
    notices.send('c');
    expect(statements).toHaveLength(1);
    statements[0].answer();
    await flush();
    expect(statements.map((s) => s.jobIds)).toEqual([['a'], ['b', 'c']]);

    let settled = false;
    const done = notices.settled().then(() => (settled = true));
    await flush();
    expect(settled).toBe(false);
    statements[1].answer();
    await done;
    // Idle again: the next end goes out at once.
    notices.send('d');
    expect(statements.map((s) => s.jobIds)).toEqual([['a'], ['b', 'c'], ['d']]);
  });

  it('never puts more than 1,000 ids in one statement', async () => {
    const { dataSource, statements } = fakeDataSource();
    const notices = new JobFinishedNotices(dataSource);
    notices.send('first');
    const burst = Array.from({ length: 1_500 }, (_, i) => `job-${i}`);
    for (const id of burst) notices.send(id);
    statements[0].answer();
    await flush();
    statements[1].answer();
    await flush();
    statements[2].answer();
    await notices.settled();
    expect(statements.map((s) => s.jobIds.length)).toEqual([1, 1_000, 500]);
    expect(statements.flatMap((s) => s.jobIds)).toEqual(['first', ...burst]);
  });

  it('warns of a failed statement, without throwing, and goes on with the ends after it', async () => {
    const { dataSource, statements } = fakeDataSource();
    const warnings: string[] = [];
    const notices = new JobFinishedNotices(dataSource, (message) => warnings.push(message));
    notices.send('a');
    notices.send('b');
    statements[0].answer(new Error('Connection terminated unexpectedly'));
    await flush();
    expect(warnings).toEqual(['notifying the end of 1 job(s) failed (Error: Connection terminated unexpectedly); their waiters re-read on their timer']);
    statements[1].answer();
    await notices.settled();
    expect(statements.map((s) => s.jobIds)).toEqual([['a'], ['b']]);
  });
});
