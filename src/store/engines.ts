/** The engines sharing this database: heartbeats, and which ones stopped beating (DESIGN.md "failover"). */
import type { WallClock } from './clock.js';
import type { Engine, EngineHeartbeat } from './model.js';
import type { PrismaClient } from './prisma-client.js';
import { toEngine } from './records.js';

export class EngineRegistry {
  constructor(
    private readonly db: PrismaClient,
    private readonly clock: WallClock,
  ) {}

  /** Registers the engine on its first beat (startedAt), refreshes heartbeatAt on the others. */
  async heartbeat(engineId: string, beat: EngineHeartbeat): Promise<void> {
    const now = this.clock();
    await this.db.engine.upsert({
      where: { id: engineId },
      create: { id: engineId, sipAddress: beat.sipAddress, sipPort: beat.sipPort, draining: beat.draining, startedAt: now, heartbeatAt: now },
      update: { sipAddress: beat.sipAddress, sipPort: beat.sipPort, draining: beat.draining, heartbeatAt: now },
    });
  }

  /** Engines whose last heartbeat is older than `olderThanMs`, oldest first. */
  async staleEngines(olderThanMs: number): Promise<Engine[]> {
    const rows = await this.db.engine.findMany({
      where: { heartbeatAt: { lt: new Date(this.clock().getTime() - olderThanMs) } },
      orderBy: { heartbeatAt: 'asc' },
    });
    return rows.map(toEngine);
  }

  async listEngines(): Promise<Engine[]> {
    return (await this.db.engine.findMany({ orderBy: { startedAt: 'asc' } })).map(toEngine);
  }

  /** True when it was registered. Its calls keep their engineId until someone claims them. */
  async removeEngine(engineId: string): Promise<boolean> {
    const { count } = await this.db.engine.deleteMany({ where: { id: engineId } });
    return count === 1;
  }
}
