import type { NodesRepository } from '@mlis/db';

/**
 * Marks nodes that stopped heartbeating as DEAD so placement skips them. Every control
 * replica may run one: the UPDATE is idempotent.
 */
export class NodeReaper {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nodes: NodesRepository,
    private readonly deadAfterSeconds: number,
    private readonly intervalMs: number,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async sweep(): Promise<string[]> {
    try {
      const dead = await this.nodes.markSilentNodesDead(this.deadAfterSeconds);
      for (const nodeId of dead) this.log(`node ${nodeId} marked DEAD after ${this.deadAfterSeconds}s without a heartbeat`);
      return dead;
    } catch (error) {
      this.log(`node reaper sweep failed: ${error instanceof Error ? error.message : String(error)}`);
      return [];
    }
  }
}
