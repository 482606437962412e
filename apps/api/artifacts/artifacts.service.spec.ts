import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FsArtifactStore, UploadAbandonedError } from '@mlis/artifacts';
import { loadConfig } from '@mlis/config';
import type { ArtifactsRepository, AuditRepository, TenantsRepository } from '@mlis/db';
import { Access } from '../common/access';
import type { RequestActor } from '../common/actor';
import { DomainError } from '../common/domain-error';
import { FakeArtifactsRepository, onUploadCommit } from '../testing/artifact-fakes';
import { FakeAuditRepository, FakeTenantsRepository } from '../testing/audit-fakes';
import { ArtifactsService, type ArtifactCaller } from './artifacts.service';

const user = (tenantId: string, scopes: string[] = ['artifacts:read', 'artifacts:write'], crossTenant = false): RequestActor => ({
  kind: 'user',
  subject: `${tenantId}-user`,
  tenantId,
  scopes: new Set(scopes),
  crossTenant,
  requestId: 'req-1',
});

const NODE: RequestActor = { kind: 'worker', subject: 'node:cpu-1', tenantId: '', scopes: new Set(), crossTenant: false, requestId: 'req-2' };

/** The service over in-memory metadata, a real fs store and tenant `acme`. */
function serviceOver(
  repository: FakeArtifactsRepository,
  audit = new FakeAuditRepository(),
  store = new FsArtifactStore(mkdtempSync(join(tmpdir(), 'mlis-artifacts-service-'))),
): ArtifactsService {
  const tenants = new FakeTenantsRepository();
  tenants.put({ id: 'acme', name: 'Acme' });
  return new ArtifactsService(
    repository as unknown as ArtifactsRepository,
    store,
    new Access(audit as unknown as AuditRepository, 0),
    tenants as unknown as TenantsRepository,
    loadConfig({}),
  );
}

// The one access decision for artifacts (ArtifactsService.readable and .owner), case by case.
describe('artifact access', () => {
  const repository = new FakeArtifactsRepository();
  const audit = new FakeAuditRepository();
  const service = serviceOver(repository, audit);
  const job = randomUUID();
  const assignment = { assignmentId: randomUUID(), jobId: job, tenantId: 'acme', nodeId: 'cpu-1', incarnation: 3, live: true };
  const worker = (overrides: Partial<NonNullable<ArtifactCaller['worker']>> = {}): ArtifactCaller => ({
    actor: NODE,
    worker: { nodeId: 'cpu-1', incarnation: 3, assignmentId: assignment.assignmentId, ...overrides },
  });
  let linked: string;
  let unlinked: string;

  beforeAll(async () => {
    repository.assignments.push(assignment);
    linked = (await service.upload({ actor: user('acme') }, { body: Readable.from([Buffer.from('a')]), contentType: 'text/plain', name: null })).artifact.id;
    unlinked = (await service.upload({ actor: user('acme') }, { body: Readable.from([Buffer.from('b')]), contentType: 'text/plain', name: null })).artifact.id;
    repository.links.push({ jobId: job, artifactId: linked, role: 'params' });
  });

  const notFound = expect.objectContaining({ code: 'artifact_not_found' });

  it('lets a user read their own tenant’s artifacts, and another tenant’s only with the capability and the scope', async () => {
    expect((await service.readable({ actor: user('acme') }, linked)).id).toBe(linked);
    await expect(service.readable({ actor: user('other') }, linked)).rejects.toEqual(notFound);
    await expect(service.readable({ actor: user('other', ['artifacts:write'], true) }, linked)).rejects.toEqual(notFound);
    expect((await service.readable({ actor: user('other', ['artifacts:read'], true) }, linked)).id).toBe(linked);
    await expect(service.readable({ actor: user('acme') }, randomUUID())).rejects.toEqual(notFound);
  });

  it('lets a node read only artifacts linked to its live assignment’s job, on its current incarnation', async () => {
    expect((await service.readable(worker(), linked)).id).toBe(linked);
    await expect(service.readable(worker(), unlinked)).rejects.toEqual(notFound);
    await expect(service.readable(worker(), randomUUID())).rejects.toEqual(notFound);
    // Not live for this caller: it learns only that, whichever artifact it asked for.
    const notLive = expect.objectContaining({ code: 'assignment_not_live' });
    await expect(service.readable(worker({ incarnation: 2 }), linked)).rejects.toEqual(notLive);
    await expect(service.readable(worker({ nodeId: 'cpu-2' }), linked)).rejects.toEqual(notLive);
    await expect(service.readable(worker({ assignmentId: randomUUID() }), linked)).rejects.toEqual(notLive);
    assignment.live = false;
    await expect(service.readable(worker(), linked)).rejects.toEqual(notLive);
    await expect(service.readable(worker(), unlinked)).rejects.toEqual(notLive);
    assignment.live = true;
    // Every refusal is a denial on record, for the node's subject.
    const denials = audit.events.filter((e) => e.result === 'deny' && e.actorSubject === NODE.subject);
    expect(denials.map((e) => e.reason)).toEqual(['not_linked', 'not_linked', ...Array<string>(5).fill('assignment_not_live')]);
    expect(denials[0]).toMatchObject({ action: 'artifact.read', resource: `artifact/${unlinked}`, targetTenant: 'acme' });
  });

  it("makes a node's upload its job's tenant's, created by the node, only while the assignment is live", async () => {
    expect(await service.owner(worker())).toEqual({
      tenantId: 'acme',
      createdBy: 'node:cpu-1',
      resultOf: { assignmentId: assignment.assignmentId, jobId: job, tenantId: 'acme' },
    });
    expect(await service.owner({ actor: user('acme') })).toEqual({ tenantId: 'acme', createdBy: 'acme-user' });
    assignment.live = false;
    const refused = service.owner(worker());
    await expect(refused).rejects.toBeInstanceOf(DomainError);
    await expect(refused).rejects.toEqual(expect.objectContaining({ code: 'assignment_not_live' }));
    assignment.live = true;
  });
});

describe("an upload's bytes", () => {
  /** A store that notes how many of the repository's transactions were open as each upload's bytes were committed. */
  function storeNotingCommits(repository: FakeArtifactsRepository, openAtCommit: number[]): FsArtifactStore {
    const store = new FsArtifactStore(mkdtempSync(join(tmpdir(), 'mlis-artifacts-service-')));
    onUploadCommit(store, () => openAtCommit.push(repository.openTransactions));
    return store;
  }

  it('are committed before the transaction that inserts the row, which then clears the pending record (ADR 0061)', async () => {
    const repository = new FakeArtifactsRepository();
    const openAtCommit: number[] = [];
    const store = storeNotingCommits(repository, openAtCommit);
    const service = serviceOver(repository, new FakeAuditRepository(), store);
    const { artifact } = await service.upload({ actor: user('acme') }, { body: Readable.from([Buffer.from('bytes')]), contentType: 'text/plain', name: null });
    expect(openAtCommit).toEqual([0]);
    expect(repository.pendingUploads.size).toBe(0);
    expect(await store.exists(artifact.sha256)).toBe(true);
  });

  it("of a repeat go once committed, unless the earlier artifact shares them; another upload's with its key are dropped", async () => {
    const repository = new FakeArtifactsRepository();
    const openAtCommit: number[] = [];
    const store = storeNotingCommits(repository, openAtCommit);
    const service = serviceOver(repository, new FakeAuditRepository(), store);
    const upload = (text: string) =>
      service.upload({ actor: user('acme') }, { body: Readable.from([Buffer.from(text)]), contentType: 'text/plain', name: null, idempotencyKey: 'k' });
    const first = await upload('same');
    // The repeat's check before its body finds nothing (as when two race): its bytes are committed, then its transaction finds the row.
    jest.spyOn(repository, 'findByIdempotencyKey').mockResolvedValueOnce(null);
    const again = await upload('same');
    expect(again).toMatchObject({ artifact: { id: first.artifact.id }, created: false });
    expect(await store.exists(first.artifact.sha256)).toBe(true);

    jest.spyOn(repository, 'findByIdempotencyKey').mockResolvedValueOnce(null);
    await expect(upload('other')).rejects.toEqual(expect.objectContaining({ code: 'idempotency_conflict' }));
    expect(openAtCommit).toEqual([0, 0, 0]);
    expect(await store.exists(createHash('sha256').update('other').digest('hex'))).toBe(false);
    expect(repository.pendingUploads.size).toBe(0);
    expect(repository.rows).toHaveLength(1);
  });

  it('of an upload whose record retention took while it stalled are gone, and it makes no row (UploadAbandonedError, which the API answers with 503 upload_abandoned)', async () => {
    const repository = new FakeArtifactsRepository();
    const store = new FsArtifactStore(mkdtempSync(join(tmpdir(), 'mlis-artifacts-service-')));
    // Retention's clean-up of an upload a day old, as the bytes are committed: the record goes, and no row uses them.
    onUploadCommit(store, () => repository.pendingUploads.clear());
    const service = serviceOver(repository, new FakeAuditRepository(), store);
    await expect(
      service.upload({ actor: user('acme') }, { body: Readable.from([Buffer.from('stalled')]), contentType: 'text/plain', name: null }),
    ).rejects.toThrow(UploadAbandonedError);
    expect(repository.rows).toHaveLength(0);
    expect(await store.exists(createHash('sha256').update('stalled').digest('hex'))).toBe(false);
  });
});

describe('an upload repeated with its Idempotency-Key', () => {
  it('makes the artifact again when retention deleted the keyed one between the repeat’s read and its update', async () => {
    const repository = new FakeArtifactsRepository();
    const service = serviceOver(repository);
    const upload = () =>
      service.upload({ actor: user('acme') }, { body: Readable.from([Buffer.from('keyed')]), contentType: 'text/plain', name: null, idempotencyKey: 'k' });
    const first = await upload();
    // The repeat reads the row twice (before the body, then in its transaction); retention deletes it after the second.
    const find = repository.findByIdempotencyKey.bind(repository);
    let reads = 0;
    jest.spyOn(repository, 'findByIdempotencyKey').mockImplementation(async (tenantId, key) => {
      const found = await find(tenantId, key);
      reads += 1;
      if (found && reads === 2) repository.rows.splice(repository.rows.indexOf(found), 1);
      return found;
    });
    const again = await upload();
    expect(again.created).toBe(true);
    expect(again.artifact.id).not.toBe(first.artifact.id);
    expect(repository.rows.map((row) => row.id)).toEqual([again.artifact.id]);
  });
});
