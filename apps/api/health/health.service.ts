import { Inject, Injectable, Logger } from '@nestjs/common';
import { Client } from '@temporalio/client';
import { DataSource } from 'typeorm';
import type { ArtifactStore } from '@mlis/artifacts';
import type { AppConfig } from '@mlis/config';
import { NodesRepository } from '@mlis/db';
import { ARTIFACT_STORE } from '../artifacts/artifacts.service';
import { InjectAppConfig } from '../core/app-config';
import type { CheckResult, ReadyResponseDto } from './health.dto';

// Readiness must answer quickly even when a dependency hangs.
const CHECK_TIMEOUT_MS = 2_000;

async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Liveness and readiness of the API and what it depends on. */
@Injectable()
export class HealthService {
  private readonly logger = new Logger(HealthService.name);

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(Client) private readonly client: Client,
    @Inject(NodesRepository) private readonly nodes: NodesRepository,
    @Inject(ARTIFACT_STORE) private readonly store: ArtifactStore,
    @InjectAppConfig() private readonly config: AppConfig,
  ) {}

  /** Postgres and Temporal answer. */
  async ready(): Promise<ReadyResponseDto> {
    const [postgres, temporal] = await Promise.all([this.checkPostgres(), this.checkTemporal()]);
    return { status: postgres === 'ok' && temporal === 'ok' ? 'ok' : 'unavailable', checks: { postgres, temporal } };
  }

  /**
   * Also: every configured worker group has at least one ACTIVE node seen recently, and the artifact store would take
   * an upload (not part of ready: without it only artifacts and large params fail, so the API keeps serving the rest).
   */
  async readyFull(): Promise<ReadyResponseDto> {
    const [base, groups, artifacts] = await Promise.all([this.ready(), this.liveNodesPerGroup(), this.check('artifacts', () => this.store.check())]);
    const workers: CheckResult = groups !== undefined && Object.values(groups).every((live) => live > 0) ? 'ok' : 'failed';
    return {
      status: base.status === 'ok' && workers === 'ok' && artifacts === 'ok' ? 'ok' : 'unavailable',
      checks: { ...base.checks, workers, artifacts },
      ...(groups !== undefined ? { groups } : {}),
    };
  }

  private async checkPostgres(): Promise<CheckResult> {
    return this.check('postgres', () => this.dataSource.query('SELECT 1'));
  }

  private async checkTemporal(): Promise<CheckResult> {
    const { connection } = this.client;
    return this.check('temporal', () =>
      connection.withDeadline(Date.now() + CHECK_TIMEOUT_MS, () => connection.workflowService.getSystemInfo({})),
    );
  }

  private async liveNodesPerGroup(): Promise<Record<string, number> | undefined> {
    try {
      const live = await withTimeout(
        this.nodes.liveCountsByGroup(this.config.scheduling.nodeDeadAfterSeconds),
        CHECK_TIMEOUT_MS,
        'postgres',
      );
      return Object.fromEntries(this.config.workerGroups.map((group) => [group, live.get(group) ?? 0]));
    } catch (error) {
      this.logger.warn({ msg: 'readiness check failed', check: 'workers', error: String(error) });
      return undefined;
    }
  }

  private async check(name: string, probe: () => Promise<unknown>): Promise<CheckResult> {
    try {
      await withTimeout(probe(), CHECK_TIMEOUT_MS, name);
      return 'ok';
    } catch (error) {
      // The reason stays in the log: health endpoints are unauthenticated.
      this.logger.warn({ msg: 'readiness check failed', check: name, error: String(error) });
      return 'failed';
    }
  }
}
