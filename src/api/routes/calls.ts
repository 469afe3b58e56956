/**
 * /v1/calls: start a call (a row in PostgreSQL, then an originate job whose id is the call id),
 * read and list calls, their events and SIP log, and send hang-up and transfer commands to the
 * engine that owns the call.
 */
import type { CallQueues, OriginateJob, OriginateLeg } from '../../queue/index.js';
import { IdempotencyConflict, type Call as CallRecord, type NewLeg, type Store, type Trunk } from '../../store/index.js';
import type { LegRequest } from '../contract.js';
import { fromHeader, resolveParty, type TrunkForParty } from '../party.js';
import { ApiProblem } from '../problem.js';
import type { RouteModule } from '../routes.js';
import { callView, eventView, flowName, sipLineView } from '../views.js';

export interface CallRoutesDeps {
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

const FINAL = new Set(['completed', 'failed', 'canceled']);

export function callRoutes(deps: CallRoutesDeps): RouteModule {
  const { store, queues } = deps;

  async function trunkFor(accountId: string, trunkId: string | undefined): Promise<Trunk | undefined> {
    if (trunkId === undefined) return (await store.getDefaultTrunk(accountId)) ?? undefined;
    const trunk = await store.getTrunk(accountId, trunkId);
    if (!trunk) throw new ApiProblem('validation_failed', { detail: `no trunk ${trunkId} in this account`, errors: [{ field: '/trunk', message: 'no such trunk' }] });
    return trunk;
  }

  function planLeg(name: 'a' | 'b', leg: LegRequest, defaults: { callerId?: string; ringTimeout: number }, trunk: Trunk | undefined, namedTrunk: boolean): PlannedLeg {
    const party = resolveParty(leg.uri, trunk && toParty(trunk), `/${name}/uri`);
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

  async function liveCall(accountId: string, id: string): Promise<CallRecord> {
    const call = await store.getCall(accountId, id);
    if (!call) throw new ApiProblem('not_found', { detail: `no call ${id} in this account` });
    if (FINAL.has(call.status)) throw new ApiProblem('call_already_ended', { detail: `call ${id} is ${call.status}` });
    return call;
  }

  return (_router, { operation }) => {
    operation('createCall', async ({ body }, { principal, idempotency }) => {
      const accountId = principal.accountId;
      // The default trunk is for numbers: two SIP URIs need no lookup (one query less per call).
      const needsTrunk = body.trunk !== undefined || !isSipUri(body.a.uri) || !isSipUri(body.b.uri);
      const trunk = needsTrunk ? await trunkFor(accountId, body.trunk) : undefined;
      const defaults = { ...(body.callerId !== undefined ? { callerId: body.callerId } : {}), ringTimeout: body.ringTimeout ?? 30 };
      const a = planLeg('a', body.a, defaults, trunk, body.trunk !== undefined);
      const b = planLeg('b', body.b, defaults, trunk, body.trunk !== undefined);
      const flow = flowName(body.flow ?? 3);
      const ringback = body.ringback ?? 'none';
      const maxDurationS = body.maxDuration ?? 0;
      let created;
      try {
        created = await store.createCall(
          accountId,
          { a: a.record, b: b.record, flow, ringback, maxDurationS, webhookUrl: body.webhookUrl ?? null, metadata: body.metadata ?? {}, queuedEvent: true },
          idempotency ? { key: idempotency.key, requestHash: idempotency.fingerprint } : undefined,
        );
      } catch (error) {
        if (error instanceof IdempotencyConflict) throw new ApiProblem('idempotency_key_reused', { detail: error.message });
        throw error;
      }
      const call = created.call;
      if (created.created) {
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
        };
        await queues.originateCall(job);
      }
      return { status: 202, body: callView(call), headers: { Location: `/v1/calls/${call.id}` } };
    });

    operation('getCall', async ({ path }, { principal }) => {
      const call = await store.getCall(principal.accountId, path.id);
      if (!call) throw new ApiProblem('not_found', { detail: `no call ${path.id} in this account` });
      return { status: 200, body: callView(call) };
    });

    operation('listCalls', async ({ query }, { principal }) => {
      const page = await store.listCalls(principal.accountId, {
        ...(query.status !== undefined ? { status: query.status } : {}),
        ...(query.createdAfter !== undefined ? { createdAfter: new Date(query.createdAfter) } : {}),
        ...(query.createdBefore !== undefined ? { createdBefore: new Date(query.createdBefore) } : {}),
        limit: query.limit ?? 20,
        cursor: query.cursor ?? null,
      });
      return { status: 200, body: { data: page.calls.map(callView), nextCursor: page.nextCursor, hasMore: page.nextCursor !== null } };
    });

    operation('hangupCall', async ({ path }, { principal }) => {
      const call = await liveCall(principal.accountId, path.id);
      if (call.engineId === null && (await store.claimQueuedCall(call.id, 'api'))) {
        // No engine has it yet: it never rings. Cancel it here, with its event.
        await queues.withdraw(call.id);
        const at = new Date();
        await store.writeChange({
          callId: call.id,
          accountId: call.accountId,
          callUpdate: { status: 'canceled', endReason: 'api_hangup', endedAt: at },
          event: { sequence: call.lastSequence + 1, type: 'call.canceled', status: 'canceled', endReason: 'api_hangup', at, payload: {} },
        });
      } else {
        const owner = call.engineId ?? (await store.getCall(principal.accountId, call.id))?.engineId;
        if (owner) await queues.command(owner, { type: 'hangup', callId: call.id });
      }
      const current = await store.getCall(principal.accountId, call.id);
      return { status: 202, body: callView(current ?? call) };
    });

    operation('transferCall', async ({ path, body }, { principal }) => {
      const call = await liveCall(principal.accountId, path.id);
      if (call.status !== 'connected' || !call.engineId) throw new ApiProblem('call_not_connected', { detail: `call ${call.id} is ${call.status}` });
      const trunk = await trunkFor(principal.accountId, call.legs.b.trunkId ?? undefined);
      const target = resolveParty(body.target, trunk && toParty(trunk), '/target');
      await queues.command(call.engineId, { type: 'transfer', callId: call.id, target: target.uri, from: `<${call.legs.b.callerId}>`, method: body.method ?? 'reinvite' });
      return { status: 202, body: callView(call) };
    });

    operation('listCallEvents', async ({ path }, { principal }) => {
      const events = await store.callEvents(principal.accountId, path.id);
      if (!events) throw new ApiProblem('not_found', { detail: `no call ${path.id} in this account` });
      return { status: 200, body: { data: events.map(eventView) } };
    });

    operation('getCallSipLog', async ({ path }, { principal }) => {
      const lines = await store.sipLog(principal.accountId, path.id);
      if (!lines) throw new ApiProblem('not_found', { detail: `no call ${path.id} in this account` });
      return { status: 200, body: { data: lines.map(sipLineView) } };
    });
  };
}

function toParty(trunk: Trunk): TrunkForParty {
  return { id: trunk.id, host: trunk.host, port: trunk.port, transport: trunk.transport, fromDomain: trunk.fromDomain, numberFormat: trunk.numberFormat };
}

function isSipUri(uri: string): boolean {
  return /^sips?:/i.test(uri.trim());
}
