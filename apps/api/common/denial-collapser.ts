import type { AuditEventInput } from '@mlis/contracts';

/** The kinds of refusal a window follows one by one; past it a new kind is counted with others of its action and reason. */
export const MAX_DENIAL_KINDS = 10_000;

interface DenialKind {
  /** The kind's last refusal; a summary row is this row with the count. */
  last: AuditEventInput;
  written: number;
  collapsed: number;
}

/**
 * Bounds the deny rows one API process writes (ADR 0040). A kind of refusal is its row without the request id: the same
 * action, resource, reason, caller and target. In each window the first `perWindow` refusals of a kind are written one
 * row each; the rest are counted, and the window's end gives one summary row per kind with their count (`occurrences`)
 * and the request id of the last. A client retrying a 429 in a loop, or a flood of bad tokens, then costs a bounded
 * number of inserts, and the log still says how many were refused and who was.
 */
export class DenialCollapser {
  private kinds = new Map<string, DenialKind>();

  /** `perWindow` 0: every refusal is written. */
  constructor(
    private readonly perWindow: number,
    private readonly maxKinds = MAX_DENIAL_KINDS,
  ) {}

  /** Whether `row` is written now; false: it is counted into its kind's summary at the window's end. */
  admit(row: AuditEventInput): boolean {
    if (this.perWindow === 0) return true;
    const key = this.kindOf(row);
    const kind = this.kinds.get(key.id) ?? { last: key.row, written: 0, collapsed: 0 };
    this.kinds.set(key.id, kind);
    if (kind.written < this.perWindow) {
      kind.written += 1;
      return true;
    }
    kind.collapsed += 1;
    kind.last = key.row;
    return false;
  }

  /** Ends the window: the summary rows of the kinds that had refusals counted, and a fresh window for every kind. */
  endWindow(): AuditEventInput[] {
    const summaries = [...this.kinds.values()].filter((kind) => kind.collapsed > 0).map((kind) => ({ ...kind.last, occurrences: kind.collapsed }));
    this.kinds = new Map();
    return summaries;
  }

  // A full window counts a new kind under its action and reason alone, so callers naming ever new resources or subjects
  // cannot grow the map without bound; the summary then names neither.
  private kindOf(row: AuditEventInput): { id: string; row: AuditEventInput } {
    const id = JSON.stringify([row.action, row.reason, row.resource, row.actorTenant, row.actorSubject, row.targetTenant]);
    if (this.kinds.has(id) || this.kinds.size < this.maxKinds) return { id, row };
    return {
      id: JSON.stringify([row.action, row.reason]),
      row: { ...row, resource: '*', actorTenant: null, actorSubject: null, targetTenant: null },
    };
  }
}
