import { Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { AuditEventInput } from '@mlis/contracts';
import { Access, actsAcrossTenants } from './access';
import type { RequestActor } from './actor';

/** Records what Access writes, with the manager each row was written in. */
class RecordingAudit {
  readonly rows: { event: AuditEventInput; manager?: EntityManager }[] = [];
  failing = false;

  async record(event: AuditEventInput, manager?: EntityManager): Promise<void> {
    if (this.failing) throw new Error('audit insert failed');
    this.rows.push({ event, manager });
  }
}

const user = (tenantId: string, scopes: string[] = ['jobs:read'], crossTenant = false): RequestActor => ({
  kind: 'user',
  subject: `${tenantId}-user`,
  tenantId,
  scopes: new Set(scopes),
  crossTenant,
  requestId: 'req-1',
});

const NODE: RequestActor = { kind: 'worker', subject: 'node:cpu-1', tenantId: '', scopes: new Set(), crossTenant: false, requestId: 'req-2' };

describe(Access.name, () => {
  let audit: RecordingAudit;
  let access: Access;

  beforeEach(() => {
    audit = new RecordingAudit();
    access = new Access(audit, 0);
  });

  it("allows an actor its own tenant's resources and writes nothing until the grant is recorded", async () => {
    const grant = await access.require(user('acme', []), 'acme', 'jobs:cancel', 'job.cancel', 'job/1');
    expect(grant).not.toBeNull();
    expect(audit.rows).toEqual([]);
    const manager = {} as EntityManager;
    await grant!.record(manager);
    expect(audit.rows).toEqual([
      {
        event: {
          requestId: 'req-1',
          actorTenant: 'acme',
          actorSubject: 'acme-user',
          targetTenant: 'acme',
          action: 'job.cancel',
          resource: 'job/1',
          result: 'allow',
          reason: null,
        },
        manager,
      },
    ]);
  });

  it("denies another tenant's resources with a deny row, unless the actor has the capability and the scope", async () => {
    expect(await access.require(user('other'), 'acme', 'jobs:read', 'job.read', 'job/1')).toBeNull();
    expect(await access.require(user('other', ['jobs:cancel'], true), 'acme', 'jobs:read', 'job.read', 'job/1')).toBeNull();
    expect(audit.rows.map((row) => row.event)).toEqual([
      {
        requestId: 'req-1',
        actorTenant: 'other',
        actorSubject: 'other-user',
        targetTenant: 'acme',
        action: 'job.read',
        resource: 'job/1',
        result: 'deny',
        reason: 'other_tenant',
      },
      expect.objectContaining({ actorTenant: 'other', targetTenant: 'acme', result: 'deny', reason: 'other_tenant' }),
    ]);
    expect(audit.rows.every((row) => row.manager === undefined)).toBe(true);

    expect(await access.require(user('other', ['jobs:read'], true), 'acme', 'jobs:read', 'job.read', 'job/1')).not.toBeNull();
    expect(audit.rows).toHaveLength(2);
  });

  it('keeps a null scope to the own tenant, whatever the capability', async () => {
    expect(await access.require(user('acme', ['jobs:read'], true), 'acme', null, 'job.submit', 'artifact/a')).not.toBeNull();
    expect(await access.require(user('other', ['jobs:read'], true), 'acme', null, 'job.submit', 'artifact/a')).toBeNull();
    expect(audit.rows.map((row) => [row.event.result, row.event.reason])).toEqual([['deny', 'other_tenant']]);
  });

  it('names a tenant as acting only for a user: a node or an unverified caller acts for none', async () => {
    await access.allow(NODE, { action: 'artifact.upload', resource: 'artifact/a', targetTenant: 'acme' });
    await access.allow({ requestId: 'req-3', subject: 'node:gpu-1' }, { action: 'token.mint', resource: 'node/gpu-1', targetTenant: null, reason: 'renewal' });
    await access.deny({ requestId: 'req-4', subject: null }, { action: 'node.register', resource: 'node/gpu-1', targetTenant: null, reason: 'missing_credential' });
    expect(audit.rows.map((row) => row.event)).toEqual([
      { requestId: 'req-2', actorTenant: null, actorSubject: 'node:cpu-1', targetTenant: 'acme', action: 'artifact.upload', resource: 'artifact/a', result: 'allow', reason: null },
      { requestId: 'req-3', actorTenant: null, actorSubject: 'node:gpu-1', targetTenant: null, action: 'token.mint', resource: 'node/gpu-1', result: 'allow', reason: 'renewal' },
      { requestId: 'req-4', actorTenant: null, actorSubject: null, targetTenant: null, action: 'node.register', resource: 'node/gpu-1', result: 'deny', reason: 'missing_credential' },
    ]);
  });

  it('fails an allowed change whose row cannot be written, but still refuses when a deny row cannot be', async () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    audit.failing = true;
    await expect(access.allow(user('acme'), { action: 'tenant.update', resource: 'tenant/acme', targetTenant: 'acme' })).rejects.toThrow('audit insert failed');
    expect(await access.require(user('other'), 'acme', 'jobs:read', 'job.read', 'job/1')).toBeNull();
    expect(logged).toHaveBeenCalledWith(expect.objectContaining({ msg: 'audit write failed for a denial', request_id: 'req-1', action: 'job.read', reason: 'other_tenant' }));
    logged.mockRestore();
  });
});

describe(actsAcrossTenants.name, () => {
  it('needs both the capability and the scope', () => {
    expect(actsAcrossTenants(user('acme', ['jobs:read'], true), 'jobs:read')).toBe(true);
    expect(actsAcrossTenants(user('acme', ['jobs:read'], false), 'jobs:read')).toBe(false);
    expect(actsAcrossTenants(user('acme', ['jobs:cancel'], true), 'jobs:read')).toBe(false);
  });
});
