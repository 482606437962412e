import type { DataSource } from 'typeorm';
import { NodeEntity } from './entities/node.entity';

/** Read side of the node registry; registration and liveness writes live in LedgerRepository. */
export class NodesRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Every node ever registered, in any status, by group then id. */
  async list(): Promise<NodeEntity[]> {
    return this.dataSource.getRepository(NodeEntity).find({ order: { groupName: 'ASC', id: 'ASC' } });
  }

  async findById(nodeId: string): Promise<NodeEntity | null> {
    return this.dataSource.getRepository(NodeEntity).findOneBy({ id: nodeId });
  }

  /** ACTIVE nodes seen within the window, counted per worker group (groups without any are absent). */
  async liveCountsByGroup(seenWithinSeconds: number): Promise<Map<string, number>> {
    const rows: { group_name: string; live: number }[] = await this.dataSource.query(
      `SELECT group_name, CAST(count(*) AS integer) AS live FROM nodes
       WHERE status = 'ACTIVE' AND last_seen_at > now() - make_interval(secs => $1)
       GROUP BY group_name`,
      [seenWithinSeconds],
    );
    return new Map(rows.map((row) => [row.group_name, row.live]));
  }
}
