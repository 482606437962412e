import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { AppConfig } from '@mlis/config';
import { NodesRepository } from '@mlis/db';
import { InjectAppConfig } from '../core/app-config';

/**
 * Writes this API process's row in `api_instances` once a node-heartbeat interval (ADR 0062): control counts a node's
 * silence only while some API was up to hear its heartbeats. A failed write is logged and tried again on the next beat;
 * the row is left behind at shutdown, as a process that stops is not one that hears nodes.
 */
@Injectable()
export class ApiPresence implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ApiPresence.name);
  private readonly instanceId = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private failing = false;

  constructor(
    @Inject(NodesRepository) private readonly nodes: NodesRepository,
    @InjectAppConfig() private readonly config: AppConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.record();
    this.timer = setInterval(() => void this.record(), this.config.scheduling.nodeHeartbeatSeconds * 1000);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  private async record(): Promise<void> {
    try {
      await this.nodes.recordApiInstance(this.instanceId, this.config.scheduling.nodeHeartbeatSeconds);
      if (this.failing) this.logger.log({ msg: 'recording this API as up works again', instance: this.instanceId });
      this.failing = false;
    } catch (error) {
      // One line an outage, not one a beat.
      if (!this.failing) this.logger.warn({ msg: 'could not record this API as up; control counts no node silence meanwhile', error: String(error) });
      this.failing = true;
    }
  }
}
