import { randomUUID } from 'node:crypto';
import type { AuditEventInput } from '@mlis/contracts';
import type { NodesRepository } from '@mlis/db';
import { controlAuditRow } from './control-audit';
import { PeriodicPass } from './periodic-pass';

/** Nodes deleted by one transaction at most: a sweep over a long backlog (the first after an upgrade) takes several short ones. */
const FORGET_BATCH = 100;
/** Node ids named in the log line of one sweep; the audit log has every one. */
const LOGGED_IDS = 20;

export interface NodeReaperOptions {
  deadAfterSeconds: number;
  /** How long a DEAD node stays before it is deleted. */
  retentionSeconds: number;
  intervalMs: number;
}

/** The `node.forget` audit row of a node deleted by the sweep `requestId` names. */
export function nodeForgetAudit(requestId: string): (nodeId: string) => AuditEventInput {
  return (nodeId) => controlAuditRow(requestId, { action: 'node.forget', resource: `node/${nodeId}`, targetTenant: null });
}

/**
 * Marks nodes that stopped heartbeating as DEAD so placement skips them, and deletes nodes DEAD for longer than the
 * retention (ADR 0034). Every control replica may run one: both statements are idempotent, and concurrent deletes
 * skip each other's rows.
 */
export class NodeReaper extends PeriodicPass<{ dead: string[]; forgotten: string[] }> {
  constructor(
    private readonly nodes: NodesRepository,
    private readonly options: NodeReaperOptions,
    private readonly log: (line: string) => void,
  ) {
    super(options.intervalMs);
  }

  protected async pass(): Promise<{ dead: string[]; forgotten: string[] }> {
    const { deadAfterSeconds, retentionSeconds } = this.options;
    try {
      const dead = await this.nodes.markSilentNodesDead(deadAfterSeconds);
      for (const nodeId of dead) this.log(`node ${nodeId} marked DEAD after ${deadAfterSeconds}s without a heartbeat`);
      const audit = nodeForgetAudit(randomUUID());
      const forgotten: string[] = [];
      let batch: string[];
      do {
        batch = await this.nodes.forgetDeadNodes(retentionSeconds, FORGET_BATCH, audit);
        forgotten.push(...batch);
      } while (batch.length === FORGET_BATCH);
      if (forgotten.length > 0) {
        const named = forgotten.slice(0, LOGGED_IDS).join(', ') + (forgotten.length > LOGGED_IDS ? ', …' : '');
        this.log(`deleted ${forgotten.length} node(s) DEAD for over ${retentionSeconds}s: ${named}`);
      }
      return { dead, forgotten };
    } catch (error) {
      this.log(`node reaper sweep failed: ${error instanceof Error ? error.message : String(error)}`);
      return { dead: [], forgotten: [] };
    }
  }
}
