import { randomUUID } from 'node:crypto';
import type { AuditEventInput } from '@mlis/contracts';
import type { NodesRepository } from '@mlis/db';
import { controlAuditRow } from './control-audit';
import { PeriodicPass } from './periodic-pass';

/** Nodes deleted by one transaction at most: a sweep over a long backlog (the first after an upgrade) takes several short ones. */
const FORGET_BATCH = 100;
/** Node ids named in the log line of one sweep; the audit log has every one. */
const LOGGED_IDS = 20;
/**
 * How long a node is gone before its unstarted placements are withdrawn: long enough for the start report of an attempt
 * that began just before the node left to arrive (MLIS_NODE_START_REPORT_DELAY_MS is at most 1 s).
 */
export const WITHDRAW_SETTLE_SECONDS = 2;

export interface NodeReaperOptions {
  deadAfterSeconds: number;
  /** How often nodes heartbeat and API processes say they are up (ADR 0062); the reaper sweeps as often. */
  heartbeatSeconds: number;
  /** How long a DEAD node stays before it is deleted. */
  retentionSeconds: number;
}

/** The `node.forget` audit row of a node deleted by the sweep `requestId` names. */
export function nodeForgetAudit(requestId: string): (nodeId: string) => AuditEventInput {
  return (nodeId) => controlAuditRow(requestId, { action: 'node.forget', resource: `node/${nodeId}`, targetTenant: null });
}

export interface NodeReaperPass {
  dead: string[];
  /** Attempts whose workflows were told to withdraw them from a gone node. */
  withdrawn: number;
  forgotten: string[];
}

/**
 * Marks nodes that stopped heartbeating as DEAD so placement skips them, has the attempts placed on gone nodes and never
 * started there withdrawn (ADR 0038), and deletes nodes DEAD for longer than the retention (ADR 0034). Every control
 * replica may run one: the statements are idempotent, a workflow ignores a repeated withdrawal, and concurrent deletes
 * skip each other's rows.
 */
export class NodeReaper extends PeriodicPass<NodeReaperPass> {
  constructor(
    private readonly nodes: NodesRepository,
    private readonly withdrawPlacements: (settledSeconds: number) => Promise<number>,
    private readonly options: NodeReaperOptions,
    private readonly log: (line: string) => void,
  ) {
    super(options.heartbeatSeconds * 1000);
  }

  protected async pass(): Promise<NodeReaperPass> {
    const { deadAfterSeconds, heartbeatSeconds, retentionSeconds } = this.options;
    try {
      const dead = await this.nodes.markSilentNodesDead(deadAfterSeconds, heartbeatSeconds);
      for (const nodeId of dead) this.log(`node ${nodeId} marked DEAD after ${deadAfterSeconds}s without a heartbeat`);
      const withdrawn = await this.withdrawPlacements(WITHDRAW_SETTLE_SECONDS);
      if (withdrawn > 0) this.log(`asked the workflows of ${withdrawn} attempt(s) placed on gone nodes, never started there, to place their jobs again`);
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
      return { dead, withdrawn, forgotten };
    } catch (error) {
      this.log(`node reaper sweep failed: ${error instanceof Error ? error.message : String(error)}`);
      return { dead: [], withdrawn: 0, forgotten: [] };
    }
  }
}
