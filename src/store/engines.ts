/** The engines sharing this database: heartbeats, and which ones stopped beating (DESIGN.md "failover"). */
import type { WallClock } from './clock.js';
import { InvalidArgument } from './errors.js';
import { FINAL_CALL_STATUSES, type Engine, type EngineHeartbeat } from './model.js';
import type { PrismaClient } from './prisma-client.js';
import { toEngine } from './records.js';

const finalStatuses = [...FINAL_CALL_STATUSES];

export class EngineRegistry {
  constructor(
    private readonly db: PrismaClient,
    private readonly clock: WallClock,
  ) {}

  /**
   * Registers the engine on its first beat (startedAt), refreshes heartbeatAt on the others.
   * `registered`: the row was not there, so this was a first beat, or the engine was declared
   * dead meanwhile and another one claimed it (claimEngine deletes the row).
   */
  async heartbeat(engineId: string, beat: EngineHeartbeat): Promise<'refreshed' | 'registered'> {
    const now = this.clock();
    const { count } = await this.db.engine.updateMany({
      where: { id: engineId },
      data: { sipAddress: beat.sipAddress, sipPort: beat.sipPort, draining: beat.draining, heartbeatAt: now },
    });
    if (count === 1) return 'refreshed';
    await this.db.engine.upsert({
      where: { id: engineId },
      create: { id: engineId, sipAddress: beat.sipAddress, sipPort: beat.sipPort, draining: beat.draining, startedAt: now, heartbeatAt: now },
      update: { sipAddress: beat.sipAddress, sipPort: beat.sipPort, draining: beat.draining, heartbeatAt: now },
    });
    return 'registered';
  }

  /**
   * Takes over a dead engine, atomically: its row is deleted if its heartbeat is still older than
   * `olderThanMs` (so of several engines that try at once, exactly one wins, the others find no
   * row), and in the same transaction its unfinished calls become `byEngineId`'s. Null when
   * another engine won or the engine beat again; otherwise the ids of the calls taken over, which
   * the winner must now end. If the winner dies too before it has, those calls are its own and
   * go to the next engine with its row.
   */
  async claimEngine(deadEngineId: string, byEngineId: string, olderThanMs: number): Promise<string[] | null> {
    if (deadEngineId === byEngineId) throw new InvalidArgument('deadEngineId', 'an engine cannot claim itself');
    const cutoff = new Date(this.clock().getTime() - olderThanMs);
    return this.db.$transaction(async (tx) => {
      const { count } = await tx.engine.deleteMany({ where: { id: deadEngineId, heartbeatAt: { lt: cutoff } } });
      if (count !== 1) return null;
      const calls = await tx.call.findMany({ where: { engineId: deadEngineId, endedAt: null, status: { notIn: finalStatuses } }, select: { id: true }, orderBy: { createdAt: 'asc' } });
      if (calls.length > 0) await tx.call.updateMany({ where: { id: { in: calls.map((call) => call.id) } }, data: { engineId: byEngineId } });
      return calls.map((call) => call.id);
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
