/**
 * Placing a call: the one path from a request to a queued call, shared by `POST /v1/calls` and by
 * the dial buttons' public endpoint. Each leg's Request-URI, From and trunk are worked out from the
 * account's trunks, the call row (with its `call.queued` event) is inserted, then the originate job
 * whose id is the call id is added, so that a retry never makes a second call.
 */
import type { CallQueues, OriginateJob, OriginateLeg } from '../queue/index.js';
import { IdempotencyConflict, type Call, type NewCall, type NewLeg, type Store, type Trunk } from '../store/index.js';
import type { CreateCallRequest, LegRequest } from './contract.js';
import { fromHeader, resolveParty, type TrunkForParty } from './party.js';
import { ApiProblem } from './problem.js';
import { flowName } from './views.js';

export interface CallPlacementDeps {
  store: Store;
  queues: CallQueues;
  /** Our SIP host, for the From of legs that have no caller ID and no trunk. */
  sipHost: string;
}

/** What the call row keeps of where each leg goes; the job carries the rest. */
interface PlannedLeg {
  record: NewLeg;
  job: OriginateLeg;
}

export interface PlaceCallOptions {
  idempotency?: { key: string; fingerprint: string } | undefined;
  /** Written with the call, in its transaction (a button call's token). */
  buttonCall?: NewCall['buttonCall'];
  /** Date.now() when the request came in (default: now). */
  receivedAt?: number;
  /** JSON pointers of the problems about the request's fields, when they are not the API's own (`/destination` for a button). */
  fields?: { a?: string; b?: string; trunk?: string };
}

export interface CallPlacer {
  /** The account's trunk by id, or its default trunk when `trunkId` is undefined. */
  trunkFor(accountId: string, trunkId: string | undefined, field?: string): Promise<Trunk | undefined>;
  /** Checks that `uri` can be reached with the trunk (a number needs one); throws a 422 naming `field`. */
  checkParty(uri: string, trunk: Trunk | undefined, field: string): void;
  place(accountId: string, request: CreateCallRequest, options?: PlaceCallOptions): Promise<{ call: Call; created: boolean }>;
}

export function toParty(trunk: Trunk): TrunkForParty {
  return { id: trunk.id, host: trunk.host, port: trunk.port, transport: trunk.transport, fromDomain: trunk.fromDomain, numberFormat: trunk.numberFormat };
}

export function createCallPlacer(deps: CallPlacementDeps): CallPlacer {
  const { store, queues } = deps;

  async function trunkFor(accountId: string, trunkId: string | undefined, field = '/trunk'): Promise<Trunk | undefined> {
    if (trunkId === undefined) return (await store.getDefaultTrunk(accountId)) ?? undefined;
    const trunk = await store.getTrunk(accountId, trunkId);
    if (!trunk) throw new ApiProblem('validation_failed', { detail: `no trunk ${trunkId} in this account`, errors: [{ field, message: 'no such trunk' }] });
    return trunk;
  }

  function planLeg(leg: LegRequest, defaults: { callerId?: string; ringTimeout: number }, trunk: Trunk | undefined, namedTrunk: boolean, field: string): PlannedLeg {
    const party = resolveParty(leg.uri, trunk && toParty(trunk), field);
    // A sip: URI uses the trunk only when the request named one (a default trunk is for numbers).
    const trunkId = leg.uri.startsWith('sip') && !namedTrunk ? undefined : party.trunkId;
    const via = trunkId ? trunk : undefined;
    const callerId = leg.callerId ?? defaults.callerId;
    const from = fromHeader(callerId, via && toParty(via), deps.sipHost);
    const ringTimeout = leg.ringTimeout ?? defaults.ringTimeout;
    const headers = Object.entries(leg.headers ?? {});
    const record: NewLeg = { uri: leg.uri, callerId: callerId ?? from.slice(1, -1), ringTimeoutS: ringTimeout, headers: leg.headers ?? {}, trunkId: trunkId ?? null };
    const job: OriginateLeg = { uri: party.uri, from, ringTimeoutMs: ringTimeout * 1000 };
    if (headers.length > 0) job.headers = headers;
    if (trunkId) job.trunkId = trunkId;
    return { record, job };
  }

  return {
    trunkFor,
    checkParty(uri, trunk, field) {
      resolveParty(uri, trunk && toParty(trunk), field);
    },
    async place(accountId, body, options = {}) {
      // Checked before anything is written: a call row whose job cannot be queued would wait for
      // Redis with the client's request hanging. The client retries (with its Idempotency-Key).
      if (!queues.available) {
        throw new ApiProblem('service_unavailable', { detail: 'the call queue is not reachable: no call was created; retry in a moment', headers: { 'Retry-After': '2' } });
      }
      // The default trunk is for numbers: two SIP URIs need no lookup (one query less per call).
      const needsTrunk = body.trunk !== undefined || !isSipUri(body.a.uri) || !isSipUri(body.b.uri);
      const trunk = needsTrunk ? await trunkFor(accountId, body.trunk, options.fields?.trunk) : undefined;
      const defaults = { ...(body.callerId !== undefined ? { callerId: body.callerId } : {}), ringTimeout: body.ringTimeout ?? 30 };
      const a = planLeg(body.a, defaults, trunk, body.trunk !== undefined, options.fields?.a ?? '/a/uri');
      const b = planLeg(body.b, defaults, trunk, body.trunk !== undefined, options.fields?.b ?? '/b/uri');
      const flow = flowName(body.flow ?? 3);
      const ringback = body.ringback ?? 'none';
      const maxDurationS = body.maxDuration ?? 0;
      let created;
      try {
        created = await store.createCall(
          accountId,
          {
            a: a.record,
            b: b.record,
            flow,
            ringback,
            maxDurationS,
            webhookUrl: body.webhookUrl ?? null,
            metadata: body.metadata ?? {},
            queuedEvent: true,
            ...(options.buttonCall ? { buttonCall: options.buttonCall } : {}),
          },
          options.idempotency ? { key: options.idempotency.key, requestHash: options.idempotency.fingerprint } : undefined,
        );
      } catch (error) {
        if (error instanceof IdempotencyConflict) throw new ApiProblem('idempotency_key_reused', { detail: error.message });
        throw error;
      }
      const call = created.call;
      // A replay (same Idempotency-Key) of a call that no engine has claimed queues its job again:
      // the request that wrote the row may have died before its job was queued (an API process
      // killed), and then only the client's retry can place the call. The job id is the call id,
      // so a job already there is not added twice, and the claim in the database keeps the call
      // from being placed twice (test/e2e/api-crash.e2e.test.ts).
      if (created.created || (call.status === 'queued' && call.engineId === null)) {
        const job: OriginateJob = {
          callId: call.id,
          accountId,
          a: a.job,
          b: b.job,
          flow,
          ringback,
          maxDurationMs: maxDurationS * 1000,
          sequence: call.lastSequence,
          acceptedAt: Date.now(),
          requestedAt: options.receivedAt ?? Date.now(),
        };
        await queues.originateCall(job);
      }
      return created;
    },
  };
}

function isSipUri(uri: string): boolean {
  return /^sips?:/i.test(uri.trim());
}
