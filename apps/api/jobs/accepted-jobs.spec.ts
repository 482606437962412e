import { FakeJobFinishedFeed } from '../testing/fakes';
import { ACCEPTED_JOB_MEMORY_MS, AcceptedJobs, MAX_ACCEPTED_JOBS } from './accepted-jobs';

describe(AcceptedJobs.name, () => {
  let now: number;
  let feed: FakeJobFinishedFeed;
  let accepted: AcceptedJobs;

  beforeEach(() => {
    now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    feed = new FakeJobFinishedFeed();
    accepted = new AcceptedJobs(feed);
  });

  afterEach(() => jest.restoreAllMocks());

  it('answers a job it accepted with its tenant, once, and stops listening for it', () => {
    accepted.add('job-1', 'team-a');
    expect(feed.subscribed).toBe(1);
    expect(accepted.take('job-1')).toBe('team-a');
    expect(accepted.take('job-1')).toBeUndefined();
    expect(feed.subscribed).toBe(0);
    expect(accepted.take('job-2')).toBeUndefined();
  });

  it("forgets a job whose end it heard: its notification, or the feed's reconnect", () => {
    accepted.add('job-1', 'team-a');
    accepted.add('job-2', 'team-a');
    accepted.add('job-3', 'team-b');
    feed.notify('job-1');
    expect(accepted.take('job-1')).toBeUndefined();
    expect(accepted.size).toBe(2);
    feed.listening = false;
    feed.reconnected();
    expect(accepted.take('job-2')).toBeUndefined();
    expect(accepted.take('job-3')).toBeUndefined();
    expect(feed.subscribed).toBe(0);
  });

  it('remembers nothing while the feed is not listening, and answers for nothing then', () => {
    feed.listening = false;
    accepted.add('job-1', 'team-a');
    expect(accepted.size).toBe(0);
    feed.listening = true;
    accepted.add('job-2', 'team-a');
    // Gone, and not back yet: an end may be going unheard.
    feed.listening = false;
    expect(accepted.take('job-2')).toBeUndefined();
    expect(feed.subscribed).toBe(0);
  });

  it('forgets a job after ACCEPTED_JOB_MEMORY_MS, and the oldest past MAX_ACCEPTED_JOBS', () => {
    accepted.add('old', 'team-a');
    now += ACCEPTED_JOB_MEMORY_MS - 1;
    accepted.add('newer', 'team-a');
    now += 1;
    expect(accepted.take('old')).toBeUndefined();
    accepted.add('newest', 'team-a');
    expect(accepted.size).toBe(2);
    expect(accepted.take('newer')).toBe('team-a');

    for (let i = 0; i < MAX_ACCEPTED_JOBS; i += 1) accepted.add(`job-${i}`, 'team-a');
    expect(accepted.size).toBe(MAX_ACCEPTED_JOBS);
    expect(feed.subscribed).toBe(MAX_ACCEPTED_JOBS);
    expect(accepted.take('newest')).toBeUndefined();
    expect(accepted.take(`job-${MAX_ACCEPTED_JOBS - 1}`)).toBe('team-a');
  });
});
