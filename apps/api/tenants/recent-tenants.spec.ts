import type { TenantRecord, TenantsRepository } from '@mlis/db';
import { FakeTenantsRepository } from '../testing/audit-fakes';
import { RecentTenants, TENANT_REREAD_MS } from './recent-tenants';

/** The fake repository, counting its reads, with one read held until `release` when `hold` is set. */
class CountingTenants extends FakeTenantsRepository {
  reads = 0;
  hold: Promise<void> | null = null;

  override async findById(id: string): Promise<TenantRecord | null> {
    this.reads += 1;
    const found = this.tenants.get(id) ?? null;
    await this.hold;
    return found;
  }
}

describe(RecentTenants.name, () => {
  let now: number;
  let tenants: CountingTenants;
  let recent: RecentTenants;

  beforeEach(() => {
    now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    tenants = new CountingTenants();
    tenants.put({ id: 'team-a', name: 'A', maxQueuedJobs: 5 });
    recent = new RecentTenants(tenants as unknown as TenantsRepository);
  });

  afterEach(() => jest.restoreAllMocks());

  it('reads a tenant once per TENANT_REREAD_MS and sees a change made elsewhere after it', async () => {
    expect((await recent.find('team-a'))?.maxQueuedJobs).toBe(5);
    tenants.put({ id: 'team-a', name: 'A', maxQueuedJobs: 9 });
    now += TENANT_REREAD_MS - 1;
    expect((await recent.find('team-a'))?.maxQueuedJobs).toBe(5);
    expect(tenants.reads).toBe(1);
    now += 1;
    expect((await recent.find('team-a'))?.maxQueuedJobs).toBe(9);
    expect(tenants.reads).toBe(2);
  });

  it('applies a change this replica wrote at once', async () => {
    await recent.find('team-a');
    recent.remember(tenants.put({ id: 'team-a', name: 'A', maxQueuedJobs: 1 }));
    expect((await recent.find('team-a'))?.maxQueuedJobs).toBe(1);
    expect(tenants.reads).toBe(1);
  });

  it('reads a tenant it did not find every time, so one created meanwhile is found', async () => {
    expect(await recent.find('team-b')).toBeNull();
    expect(await recent.find('team-b')).toBeNull();
    tenants.put({ id: 'team-b', name: 'B' });
    expect((await recent.find('team-b'))?.id).toBe('team-b');
    expect(tenants.reads).toBe(3);
  });

  it('shares one read among the submissions that come while it runs', async () => {
    let release = (): void => undefined;
    tenants.hold = new Promise<void>((resolve) => (release = resolve));
    const burst = Array.from({ length: 20 }, () => recent.find('team-a'));
    release();
    expect((await Promise.all(burst)).map((record) => record?.maxQueuedJobs)).toEqual(Array(20).fill(5));
    expect(tenants.reads).toBe(1);
  });

  it('keeps a write remembered while a read was under way, not the older row that read found', async () => {
    let release = (): void => undefined;
    tenants.hold = new Promise<void>((resolve) => (release = resolve));
    const reading = recent.find('team-a');
    now += 5;
    recent.remember(tenants.put({ id: 'team-a', name: 'A', maxQueuedJobs: 2 }));
    release();
    // The read began before the write: it answers what it found, but does not replace the newer row.
    await reading;
    tenants.hold = null;
    expect((await recent.find('team-a'))?.maxQueuedJobs).toBe(2);
    expect(tenants.reads).toBe(1);
  });
});
