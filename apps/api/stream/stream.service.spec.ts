import { randomUUID } from 'node:crypto';
import type { ArtifactsRepository, JobsRepository, NodesRepository } from '@mlis/db';
import { FakeArtifactsRepository } from '../testing/artifact-fakes';
import { FakeAuditRepository } from '../testing/audit-fakes';
import { FakeJobsRepository, FakeNodesRepository } from '../testing/fakes';
import { StreamService } from './stream.service';

describe(StreamService.name, () => {
  afterEach(() => jest.restoreAllMocks());

  it('sends a change once, however long the tenant then stays idle with it inside the look-back window', async () => {
    const jobs = new FakeJobsRepository(new FakeAuditRepository());
    const service = new StreamService(
      jobs as unknown as JobsRepository,
      new FakeNodesRepository() as unknown as NodesRepository,
      new FakeArtifactsRepository() as unknown as ArtifactsRepository,
    );
    // The wall clock moves 3 s a poll: an idle minute in twenty polls.
    let now = Date.parse('2030-01-01T00:00:00Z');
    jest.spyOn(Date, 'now').mockImplementation(() => (now += 3000));
    const id = randomUUID();
    jobs.seed({ id, state: 'SUCCEEDED', updatedAt: new Date('2030-01-01T00:00:01Z') });
    const sent: string[] = [];
    let polls = 0;
    await new Promise<void>((resolve, reject) => {
      const stop = service.follow(
        { tenantId: 'default', nodes: true, artifacts: true },
        (event, data) => {
          if (event === 'job') sent.push((data as { id: string }).id);
        },
        reject,
        1,
      );
      // The stream reads the nodes once a poll: a count of polls without a hook into the service.
      const list = FakeNodesRepository.prototype.list;
      jest.spyOn(FakeNodesRepository.prototype, 'list').mockImplementation(function (this: FakeNodesRepository) {
        polls += 1;
        if (polls === 20) {
          stop();
          resolve();
        }
        return list.call(this);
      });
    });
    expect(sent).toEqual([id]);
  });
});
