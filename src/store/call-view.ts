/**
 * A call as the API shows it (the contract's `Call`): ISO timestamps, the flow as the number the
 * API speaks (1, 3, 4), never a secret. It lives here, below the API, because webhooks carry the
 * same object (`data.call`) and src/webhooks may not import src/api (DESIGN.md "Layers");
 * src/api/views.ts re-exports it typed as the contract's Call, so the compiler keeps the two equal.
 */
import type { Call, Leg } from './model.js';

export interface CallLegView {
  uri: string;
  callerId: string;
  status: Leg['status'];
  sipCode: number | null;
  sipReason: string | null;
  answeredAt: string | null;
  endedAt: string | null;
}

export interface CallView {
  id: string;
  object: 'call';
  status: Call['status'];
  a: CallLegView;
  b: CallLegView;
  flow: 1 | 3 | 4;
  ringback: Call['ringback'];
  createdAt: string;
  connectedAt: string | null;
  endedAt: string | null;
  /** Seconds connected, once ended. */
  duration: number | null;
  endReason: string | null;
  failedLeg: Call['failedLeg'];
  metadata: Call['metadata'];
  webhookUrl: string | null;
}

const FLOW_NUMBERS = { I: 1, III: 3, IV: 4 } as const;

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

function legView(leg: Leg): CallLegView {
  return {
    uri: leg.uri,
    callerId: leg.callerId,
    status: leg.status,
    sipCode: leg.sipCode,
    sipReason: leg.sipReason,
    answeredAt: iso(leg.answeredAt),
    endedAt: iso(leg.endedAt),
  };
}

export function callView(call: Call): CallView {
  const duration = call.connectedAt && call.endedAt ? Math.round((call.endedAt.getTime() - call.connectedAt.getTime()) / 1000) : null;
  return {
    id: call.id,
    object: 'call',
    status: call.status,
    a: legView(call.legs.a),
    b: legView(call.legs.b),
    flow: FLOW_NUMBERS[call.flow],
    ringback: call.ringback,
    createdAt: call.createdAt.toISOString(),
    connectedAt: iso(call.connectedAt),
    endedAt: iso(call.endedAt),
    duration,
    endReason: call.endReason ?? null,
    failedLeg: call.failedLeg,
    metadata: call.metadata,
    webhookUrl: call.webhookUrl,
  };
}
