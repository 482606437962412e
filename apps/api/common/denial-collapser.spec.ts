import type { AuditEventInput } from '@mlis/contracts';
import { DenialCollapser } from './denial-collapser';

const denial = (requestId: string, overrides: Partial<AuditEventInput> = {}): AuditEventInput => ({
  requestId,
  actorTenant: null,
  actorSubject: null,
  targetTenant: null,
  action: 'auth.user_token',
  resource: 'GET /v1/jobs',
  result: 'deny',
  reason: 'invalid_token',
  ...overrides,
});

describe(DenialCollapser.name, () => {
  it('admits the first refusals of a kind in a window and counts the rest into one summary with the last request id', () => {
    const collapser = new DenialCollapser(2);
    const admitted = ['r1', 'r2', 'r3', 'r4', 'r5'].map((id) => collapser.admit(denial(id)));
    expect(admitted).toEqual([true, true, false, false, false]);
    expect(collapser.endWindow()).toEqual([{ ...denial('r5'), occurrences: 3 }]);
  });

  it('starts every kind afresh in the next window, and gives no summary for a kind that stayed within its rows', () => {
    const collapser = new DenialCollapser(1);
    expect([collapser.admit(denial('r1')), collapser.admit(denial('r2'))]).toEqual([true, false]);
    expect(collapser.endWindow()).toHaveLength(1);
    expect(collapser.admit(denial('r3'))).toBe(true);
    expect(collapser.endWindow()).toEqual([]);
  });

  it('tells kinds apart by action, resource, reason, caller and target, not by request id', () => {
    const collapser = new DenialCollapser(1);
    const kinds = [
      denial('a'),
      denial('b', { resource: 'POST /v1/jobs' }),
      denial('c', { reason: 'token_expired' }),
      denial('d', { action: 'auth.worker_token' }),
      denial('e', { actorSubject: 'alice', actorTenant: 'acme' }),
      denial('f', { actorSubject: 'alice', actorTenant: 'acme', targetTenant: 'acme' }),
    ];
    expect(kinds.map((row) => collapser.admit(row))).toEqual(kinds.map(() => true));
    expect(kinds.map((row) => collapser.admit({ ...row, requestId: `${row.requestId}-again` }))).toEqual(kinds.map(() => false));
    expect(collapser.endWindow().map((row) => [row.requestId, row.occurrences])).toEqual(kinds.map((row) => [`${row.requestId}-again`, 1]));
  });

  it('writes every refusal with a limit of 0', () => {
    const collapser = new DenialCollapser(0);
    expect(Array.from({ length: 50 }, (_, i) => collapser.admit(denial(`r${i}`))).every(Boolean)).toBe(true);
    expect(collapser.endWindow()).toEqual([]);
  });

  it('counts new kinds past the bound under their action and reason alone, naming no resource or caller', () => {
    const collapser = new DenialCollapser(1, 2);
    collapser.admit(denial('a', { resource: 'job/1', actorSubject: 'alice' }));
    collapser.admit(denial('b', { resource: 'job/2', actorSubject: 'bob' }));
    // Past the bound: one kind per action and reason, whatever the resource and caller.
    const late = ['job/3', 'job/4', 'job/5'].map((resource, i) => collapser.admit(denial(`c${i}`, { resource, actorSubject: `user-${i}` })));
    expect(late).toEqual([true, false, false]);
    // A kind known before the bound was reached is still followed on its own.
    expect(collapser.admit(denial('a2', { resource: 'job/1', actorSubject: 'alice' }))).toBe(false);
    expect(collapser.endWindow()).toEqual([
      { ...denial('a2', { resource: 'job/1', actorSubject: 'alice' }), occurrences: 1 },
      { ...denial('c2'), resource: '*', actorSubject: null, occurrences: 2 },
    ]);
  });
});
