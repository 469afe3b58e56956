/**
 * /v1/calls: start a call (a row in PostgreSQL, then an originate job whose id is the call id),
 * read and list calls, their events and SIP log, and send hang-up and transfer commands to the
 * engine that owns the call.
 */
import type { CallQueues } from '../../queue/index.js';
import type { Call as CallRecord, Store, Trunk } from '../../store/index.js';
import { createCallPlacer, toParty } from '../call-placement.js';
import { resolveParty } from '../party.js';
import { ApiProblem } from '../problem.js';
import type { RouteModule } from '../routes.js';
import { callView, eventView, sipLineView } from '../views.js';

export interface CallRoutesDeps {
  store: Store;
  queues: CallQueues;
  /** Our SIP host, for the From of legs that have no caller ID and no trunk. */
  sipHost: string;
}

const FINAL = new Set(['completed', 'failed', 'canceled']);

export function callRoutes(deps: CallRoutesDeps): RouteModule {
  const { store, queues } = deps;

  const placer = createCallPlacer(deps);
  const trunkFor = (accountId: string, trunkId: string | undefined): Promise<Trunk | undefined> => placer.trunkFor(accountId, trunkId);

  async function liveCall(accountId: string, id: string): Promise<CallRecord> {
    const call = await store.getCall(accountId, id);
    if (!call) throw new ApiProblem('not_found', { detail: `no call ${id} in this account` });
    if (FINAL.has(call.status)) throw new ApiProblem('call_already_ended', { detail: `call ${id} is ${call.status}` });
    return call;
  }

  return (_router, { operation }) => {
    operation('createCall', async ({ body }, { principal, idempotency, res }) => {
      const { call } = await placer.place(principal.accountId, body, { idempotency, receivedAt: res.locals.receivedAt as number | undefined });
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
