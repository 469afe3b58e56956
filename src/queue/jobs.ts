/**
 * The jobs that go through Redis: one `originate` job per call (its id is the call id, so an
 * API retry never places a second call), and commands for a live call, sent to the queue of the
 * engine that owns it. Plain JSON; secrets (trunk passwords) never go into a job.
 */
import type { Flow, Ringback } from '../engine/index.js';

/** BullMQ's key prefix unless configured (QUEUE_PREFIX). */
export const DEFAULT_QUEUE_PREFIX = 'ctd';

export const ORIGINATE_QUEUE = 'originate';

/** The command queue of one engine process. */
export function engineQueueName(engineId: string): string {
  return `engine-${engineId}`;
}

export interface OriginateLeg {
  uri: string;
  from: string;
  headers?: [string, string][];
  ringTimeoutMs?: number;
  /** The trunk whose credentials answer this leg's 401/407, and whose proxy it goes through. */
  trunkId?: string;
  route?: string[];
}

export interface OriginateJob {
  callId: string;
  accountId: string;
  a: OriginateLeg;
  b: OriginateLeg;
  flow: Flow;
  ringback: Ringback;
  maxDurationMs: number;
  /** The last public event sequence already used (1: the API wrote call.queued). */
  sequence: number;
  /** Date.now() when the API accepted the call, to measure the latency to the first INVITE. */
  acceptedAt: number;
  /** Date.now() when the API received the request (absent in jobs of earlier versions): the dispatch latency metric. */
  requestedAt?: number;
}

export type EngineCommand =
  | { type: 'hangup'; callId: string }
  | { type: 'transfer'; callId: string; target: string; from?: string; method: 'reinvite' | 'refer' };
