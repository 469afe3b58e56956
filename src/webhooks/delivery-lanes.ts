/**
 * Order per call: the deliveries of one call's events to one destination (an endpoint, or the
 * call's own webhookUrl) go out one at a time, in the order of the events' sequence. Each such
 * (destination, call) pair is a lane: a Redis sorted set of its unfinished deliveries scored by
 * sequence. Only the first of a lane is sent; the others wait as delayed jobs (holding no worker
 * slot, so other calls, and other endpoints, are not held up) and are listed in the lane's
 * `parked` hash with their job id. When the first finishes for good (delivered, or failed: its
 * schedule exhausted, 410, the endpoint disabled or deleted) it leaves, and the next is released
 * (its job promoted).
 *
 * The happy path costs one Redis script per batch of the dispatcher (join) and one per delivery
 * (leave); the worker asks whether it is first (enter) only for a job not known to be first: one
 * that waited, was re-added by the reconciler, or was retried through the API.
 *
 * Each step is atomic in Redis, but promoting a job is BullMQ's own step after it, so a release
 * can miss: the job it promotes may not be delayed yet (its dispatcher or worker is between the
 * lane and the queue), or the releasing process may die in between. Both sides look again after
 * their queue step (recheck), and every waiting job also wakes up by itself after `recheckMs` to
 * ask again; a first delivery that is no longer pending in PostgreSQL (a ghost: its process died
 * before it left) is then taken out of the lane. A lane whose keys expire (nothing happened in it
 * for `ttlMs`) or that Redis lost simply starts again from the deliveries that come next.
 */
import type { Redis } from 'ioredis';

/** Adds deliveries to their lanes (each once), then tells which are first; the others are parked. */
const JOIN = `
local ttl = ARGV[1]
local n = #KEYS / 2
for i = 1, n do
  local lane = KEYS[2 * i - 1]
  redis.call('ZADD', lane, 'NX', ARGV[3 * i - 1], ARGV[3 * i])
  redis.call('PEXPIRE', lane, ttl)
end
local first = {}
for i = 1, n do
  local lane, parked, id = KEYS[2 * i - 1], KEYS[2 * i], ARGV[3 * i]
  if redis.call('ZRANGE', lane, 0, 0)[1] == id then
    first[i] = 1
  else
    first[i] = 0
    redis.call('HSET', parked, id, ARGV[3 * i + 1])
    redis.call('PEXPIRE', parked, ttl)
  end
end
return first`;

/** One delivery asks whether it is first; if not it is parked, and the first's id comes back. */
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

/** A delivery finished for good: it leaves, and the job of the next one, if parked, comes back to be promoted. */
const LEAVE = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if not head then
  redis.call('DEL', KEYS[1], KEYS[2])
  return false
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local job = redis.call('HGET', KEYS[2], head)
if job then
  redis.call('HDEL', KEYS[2], head)
  return job
end
return false`;

/** Of the given (lane, delivery) pairs, which are first now. */
const FIRST = `
local first = {}
for i = 1, #KEYS do
  first[i] = redis.call('ZRANGE', KEYS[i], 0, 0)[1] == ARGV[i] and 1 or 0
end
return first`;

export interface LaneMember {
  /** The destination: an endpoint's id, or `call` for the call's own webhookUrl. */
  target: string;
  callId: string;
  sequence: number;
  deliveryId: string;
  /** The BullMQ job that is to send it (the one a release promotes). */
  jobId: string;
}

export type EnterVerdict = { first: true } | { first: false; behind: string };

export interface DeliveryLanesOptions {
  /** Key prefix, e.g. `<QUEUE_PREFIX>:<queue>:lane:`. */
  keyPrefix: string;
  /** A lane's keys expire after this long without activity, ms (only a guard against leaks). */
  ttlMs: number;
  /** A parked job wakes up by itself after this long to ask again, ms. Default 60000. */
  recheckMs?: number;
}

export class DeliveryLanes {
  readonly recheckMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly options: DeliveryLanesOptions,
  ) {
    this.recheckMs = options.recheckMs ?? 60_000;
  }

  private laneKey(target: string, callId: string): string {
    return `${this.options.keyPrefix}${target}:${callId}`;
  }

  /** For each member, whether it is first in its lane (true) or parked behind another (false). */
  async join(members: readonly LaneMember[]): Promise<boolean[]> {
    if (members.length === 0) return [];
    const keys: string[] = [];
    const args: (string | number)[] = [this.options.ttlMs];
    for (const member of members) {
      const lane = this.laneKey(member.target, member.callId);
      keys.push(lane, `${lane}:parked`);
      args.push(member.sequence, member.deliveryId, member.jobId);
    }
    const first = (await this.redis.eval(JOIN, keys.length, ...keys, ...args)) as number[];
    return first.map((value) => value === 1);
  }

  async enter(member: LaneMember): Promise<EnterVerdict> {
    const lane = this.laneKey(member.target, member.callId);
    const verdict = (await this.redis.eval(ENTER, 2, lane, `${lane}:parked`, member.sequence, member.deliveryId, member.jobId, this.options.ttlMs)) as number | string;
    return verdict === 1 ? { first: true } : { first: false, behind: String(verdict) };
  }

  /** The delivery is done with (delivered or failed for good); the job id of the next one to promote, if it was parked. */
  async leave(member: Pick<LaneMember, 'target' | 'callId' | 'deliveryId'>): Promise<string | null> {
    const lane = this.laneKey(member.target, member.callId);
    const next = (await this.redis.eval(LEAVE, 2, lane, `${lane}:parked`, member.deliveryId, this.options.ttlMs)) as string | null;
    return next ?? null;
  }

  /** Which of these members are first in their lanes now. */
  async first(members: ReadonlyArray<Pick<LaneMember, 'target' | 'callId' | 'deliveryId'>>): Promise<boolean[]> {
    if (members.length === 0) return [];
    const keys = members.map((member) => this.laneKey(member.target, member.callId));
    const first = (await this.redis.eval(FIRST, keys.length, ...keys, ...members.map((member) => member.deliveryId))) as number[];
    return first.map((value) => value === 1);
  }
}
