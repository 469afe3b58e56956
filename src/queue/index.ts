/** BullMQ queues and workers: originate jobs, per-engine commands, the engine role. */
export { createRedis, type Redis } from './redis.js';
export { CallQueues } from './originate-queue.js';
export { EngineRunner, type EngineRunnerOptions, type EngineStore } from './engine-runner.js';
export { logCallEvent, logSipMessage, type CallLogger } from './event-log.js';
export { changeForEvent, type EventChange, type CallUpdate, type LegUpdate, type PublicEventType } from './event-mapping.js';
export { ORIGINATE_QUEUE, engineQueueName, type OriginateJob, type OriginateLeg, type EngineCommand } from './jobs.js';
export { FailoverMonitor, type FailoverMonitorOptions, type FailoverStore, type OrphanedLegEnder, type OrphanedCallOutcome } from './failover-monitor.js';
