/**
 * Order per call: the deliveries of one call's events to one destination (an endpoint, or the
 * call's own webhookUrl) go out one at a time, in the order of the events' sequence. Each such
 * (destination, call) pair is a lane: a Redis sorted set of its unfinished deliveries scored by
 * sequence. Only the first of a lane is sent. The others wait in the lane itself, their job's data
 * in the lane's `jobs` hash and no BullMQ job of their own: when the first is done with for good
 * (delivered, or failed: its schedule exhausted, 410, the endpoint disabled or deleted) it leaves,
 * and the job that sent it is handed the next one's data and sends it too, and so on (a run). A
 * backlog of one call's events thus costs one job, not a delayed job, a promotion and a check per
 * event; a delivery that is to be retried keeps its place at the head and the rest stay behind it.
 *
 * The handover is one atomic step (leave), so no release can be missed. Who carries a lane's
 * head is written in the lane (`carrier`, a job id) for the reconciler: a waiting delivery whose
 * carrier's job is gone (failed for good in BullMQ) is given a job of its own again. A job that
 * carries a run and is started again (its worker died, or it backed off for the throttle) starts
 * from the delivery it was carrying (the worker records it in the job's data before sending), and
 * leaving a lane it already left still hands it the head it is the carrier of.
 *
 * Members with a job of their own (first when they joined, or re-added by the reconciler, or
 * retried through the API) have no entry in `jobs`. A lane whose keys expire (nothing happened in
 * it for `ttlMs`) or that Redis lost simply starts again from the deliveries that come next.
 */
import type { Redis } from 'ioredis';
import type { DeliveryJob } from './delivery-queue.js';

/**
 * Adds deliveries to their lanes (each once) and tells which are first (to be sent by a job of
 * their own); the others wait with their data. One already waiting (or being carried) stays so:
 * a dispatcher's claim redone must not give it a second sender.
 */
const JOIN = `
local ttl = ARGV[1]
local n = #KEYS / 2
local added = {}
for i = 1, n do
  local lane = KEYS[2 * i - 1]
  added[i] = redis.call('ZADD', lane, 'NX', ARGV[3 * i - 1], ARGV[3 * i])
  redis.call('PEXPIRE', lane, ttl)
end
local first = {}
for i = 1, n do
  local lane, jobs, id = KEYS[2 * i - 1], KEYS[2 * i], ARGV[3 * i]
  if added[i] == 0 and redis.call('HEXISTS', jobs, id) == 1 then
    first[i] = 0
  elseif redis.call('ZRANGE', lane, 0, 0)[1] == id then
    first[i] = 1
  else
    first[i] = 0
    redis.call('HSET', jobs, id, ARGV[3 * i + 1])
    redis.call('PEXPIRE', jobs, ttl)
  end
end
return first`;

/** A delivery with a job of its own asks whether it is first; if not it waits with its data, and the first's id comes back. */
const ENTER = `
redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if head == ARGV[2] then
  redis.call('HDEL', KEYS[2], ARGV[2])
  return 1
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return head`;

/**
 * A delivery finished for good: it leaves, and the data of the next one, if it waits with no job
 * of its own, comes back to the leaving job, now its carrier. It stays in `jobs` until it leaves
 * in turn (that is how the reconciler tells it is being carried). A job leaving a member no longer
 * there (it was started again after leaving) is handed the head only if it is the carrier.
 */
const LEAVE = `
local left = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if left == 0 and redis.call('GET', KEYS[3]) ~= ARGV[3] then
  return false
end
local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if not head then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  return false
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local job = redis.call('HGET', KEYS[2], head)
if not job then
  return false
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[2])
return job`;

/** For each (lane, delivery): the job carrying it when it is its lane's head with no job of its own, else ''. */
const CARRIERS = `
local carriers = {}
for i = 1, #ARGV do
  local lane, jobs, carrier, id = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i], ARGV[i]
  carriers[i] = ''
  if redis.call('ZRANGE', lane, 0, 0)[1] == id and redis.call('HEXISTS', jobs, id) == 1 then
    carriers[i] = redis.call('GET', carrier) or ''
  end
end
return carriers`;

export interface LaneMember {
  /** The destination: an endpoint's id, or `call` for the call's own webhookUrl. */
  target: string;
  callId: string;
  sequence: number;
  deliveryId: string;
}

export type EnterVerdict = { first: true } | { first: false; behind: string };

export interface DeliveryLanesOptions {
  /** Key prefix, e.g. `<QUEUE_PREFIX>:<queue>:lane:`. */
  keyPrefix: string;
  /** A lane's keys expire after this long without activity, ms (only a guard against leaks). */
  ttlMs: number;
}

/** The lane of a call event's delivery; null for other events (not ordered). */
export function laneOf(job: DeliveryJob): LaneMember | null {
  if (job.callId == null || job.sequence == null) return null;
  return { target: job.endpointId ?? 'call', callId: job.callId, sequence: job.sequence, deliveryId: job.deliveryId };
}

/** What a waiting delivery keeps in its lane: its job's data, without what only its own job would mean. */
function waitingData(job: DeliveryJob): string {
  const { laneHead: _laneHead, dueAt: _dueAt, ...data } = job;
  return JSON.stringify(data);
}

export class DeliveryLanes {
  constructor(
    private readonly redis: Redis,
    private readonly options: DeliveryLanesOptions,
  ) {}

  private laneKey(member: Pick<LaneMember, 'target' | 'callId'>): string {
    return `${this.options.keyPrefix}${member.target}:${member.callId}`;
  }

  /** For each call event's delivery: true when first in its lane (it needs a job), false when it waits there. */
  async join(jobs: readonly DeliveryJob[]): Promise<boolean[]> {
    if (jobs.length === 0) return [];
    const keys: string[] = [];
    const args: (string | number)[] = [this.options.ttlMs];
    for (const job of jobs) {
      const member = laneOf(job);
      if (member === null) throw new TypeError(`delivery ${job.deliveryId} is not a call event's: it has no lane`);
      const lane = this.laneKey(member);
      keys.push(lane, `${lane}:jobs`);
      args.push(member.sequence, member.deliveryId, waitingData(job));
    }
    const first = (await this.redis.eval(JOIN, keys.length, ...keys, ...args)) as number[];
    return first.map((value) => value === 1);
  }

  /** A delivery with a job of its own: first, or waiting (with `job`'s data) behind `behind`. */
  async enter(member: LaneMember, job: DeliveryJob): Promise<EnterVerdict> {
    const lane = this.laneKey(member);
    const verdict = (await this.redis.eval(ENTER, 2, lane, `${lane}:jobs`, member.sequence, member.deliveryId, waitingData(job), this.options.ttlMs)) as number | string;
    return verdict === 1 ? { first: true } : { first: false, behind: String(verdict) };
  }

  /**
   * The delivery is done with (delivered or failed for good). Returns the next of its lane when it
   * waits with no job of its own: the job `carrier` (the one leaving) is to send it now.
   */
  async leave(member: Pick<LaneMember, 'target' | 'callId' | 'deliveryId'>, carrier: string): Promise<DeliveryJob | null> {
    const lane = this.laneKey(member);
    const next = (await this.redis.eval(LEAVE, 3, lane, `${lane}:jobs`, `${lane}:carrier`, member.deliveryId, this.options.ttlMs, carrier)) as string | null;
    return next === null ? null : { ...(JSON.parse(next) as DeliveryJob), laneHead: true };
  }

  /** For each member: the id of the job carrying it (it is the head of its lane with no job of its own), or null. */
  async carriers(members: readonly LaneMember[]): Promise<Array<string | null>> {
    if (members.length === 0) return [];
    const keys = members.flatMap((member) => {
      const lane = this.laneKey(member);
      return [lane, `${lane}:jobs`, `${lane}:carrier`];
    });
    const carriers = (await this.redis.eval(CARRIERS, keys.length, ...keys, ...members.map((member) => member.deliveryId))) as string[];
    return carriers.map((carrier) => (carrier === '' ? null : carrier));
  }
}
