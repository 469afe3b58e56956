/**
 * The store's records as the API shows them (the contract's Call, CallEvent, Trunk, ApiKey):
 * ISO timestamps, `object` names, flows as the numbers the API speaks (1, 3, 4), and never a
 * secret. Pure.
 */
import { callView as storeCallView, type ApiKey as ApiKeyRecord, type Call as CallRecord, type CallEventRecord, type SipMessageRecord, type Trunk as TrunkRecord } from '../store/index.js';
import type { ApiKey, Call, CallEvent, EventType, Flow, SipLogLine, Trunk } from './contract.js';

const FLOW_NUMBERS = { I: 1, III: 3, IV: 4 } as const;
const FLOW_NAMES = { 1: 'I', 3: 'III', 4: 'IV' } as const;

export function flowNumber(flow: 'I' | 'III' | 'IV'): Flow {
  return FLOW_NUMBERS[flow];
}

export function flowName(flow: Flow): 'I' | 'III' | 'IV' {
  return FLOW_NAMES[flow];
}

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

/** The store's call view (shared with webhooks' `data.call`), as the contract's Call. */
export function callView(call: CallRecord): Call {
  const view = storeCallView(call);
  return { ...view, endReason: view.endReason as Call['endReason'], metadata: view.metadata as Call['metadata'] };
}

export function eventView(event: CallEventRecord): CallEvent {
  const payload = event.payload as { target?: string; method?: 'reinvite' | 'refer' };
  return {
    id: event.id,
    object: 'event',
    call: event.callId,
    sequence: event.sequence,
    type: event.type as EventType,
    leg: event.leg,
    status: (event.status ?? null) as CallEvent['status'],
    sip: event.sipCode !== null ? { code: event.sipCode, reason: event.sipReason ?? '' } : null,
    endReason: (event.endReason ?? null) as CallEvent['endReason'],
    transfer: event.type === 'call.transferred' && payload.target && payload.method ? { target: payload.target, method: payload.method } : null,
    createdAt: event.createdAt.toISOString(),
  };
}

export function sipLineView(line: SipMessageRecord): SipLogLine {
  return { leg: line.leg, direction: line.direction, at: line.at.toISOString(), peer: line.peer, line: line.line, message: line.message };
}

export function trunkView(trunk: TrunkRecord): Trunk {
  return {
    id: trunk.id as Trunk['id'],
    object: 'trunk',
    name: trunk.name,
    host: trunk.host,
    port: trunk.port,
    transport: trunk.transport,
    username: trunk.username,
    hasPassword: trunk.hasPassword,
    realm: trunk.realm,
    fromDomain: trunk.fromDomain,
    numberFormat: trunk.numberFormat,
    isDefault: trunk.isDefault,
    createdAt: trunk.createdAt.toISOString() as Trunk['createdAt'],
    updatedAt: trunk.updatedAt.toISOString() as Trunk['updatedAt'],
  };
}

export function apiKeyView(key: ApiKeyRecord): ApiKey {
  return { id: key.id, object: 'api_key', name: key.name, prefix: key.prefix, createdAt: key.createdAt.toISOString(), lastUsedAt: iso(key.lastUsedAt) };
}
