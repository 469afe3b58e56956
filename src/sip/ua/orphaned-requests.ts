/**
 * Ending, from another process, a session whose owner died (RFC 3261 §15.1.1 BYE, §9.1 CANCEL):
 * the dialog or the INVITE is rebuilt from what was persisted, and the request goes in a
 * transaction of this UA, so its Via names this process and the response comes back here.
 *
 * - BYE: the dialog comes from its DialogSnapshot (SessionDialog.fromSnapshot). The dead owner
 *   may have sent in-dialog requests after the snapshot was taken (a re-INVITE, a session
 *   refresh) and a UAS refuses a CSeq lower than the last one it saw (§12.2.2: 500), so the BYE
 *   skips `cseqMargin` numbers ahead of the persisted local CSeq instead of persisting the
 *   dialog on every request.
 * - CANCEL: it must carry the INVITE's Request-URI, top Via (the branch and sent-by that the UAS
 *   matches it on, §9.2 and §17.2.3), From, To, Call-ID and CSeq number, and go where the INVITE
 *   went (§9.1). That Via names the dead process, so the 200 to the CANCEL (sent here, with
 *   `rport`, RFC 3581) is discarded by our transport as not ours (§18.1.2), and the 487 to the
 *   INVITE goes to the dead address: the outcome of such a CANCEL is never known here, and the
 *   transaction ends with Timer F (a 408).
 */
import type { Clock } from '../clock.js';
import { SessionDialog, type DialogSnapshot } from '../dialog/index.js';
import { MAX_CSEQ, SipRequest, type SipResponse } from '../message/index.js';
import { createCancel } from '../transaction/index.js';
import type { Destination } from '../transport/index.js';
import type { UserAgent } from './user-agent.js';

/** What a CANCEL of an INVITE in progress needs, as persisted while the INVITE rang. */
export interface InviteSnapshot {
  version: 1;
  requestUri: string;
  /** The INVITE's top Via, with its branch. */
  via: string;
  from: string;
  /** Without a tag: the CANCEL's To is the INVITE's (§9.1). */
  to: string;
  callId: string;
  cseq: number;
  /** The INVITE's Route header values. */
  routes: string[];
  /** Where the INVITE was sent. */
  destination: Destination;
}

/** The outcome of an orphaned BYE or CANCEL: the final response, or a 408/503 when none came. */
export interface OrphanedRequestResult {
  status: number;
  reason: string;
  /** False when the status was made up here: a timeout (408) or a send failure (503). */
  fromWire: boolean;
  /** `BYE sip:…` / `CANCEL sip:…`, for the call's SIP log. */
  requestLine: string;
  /** Where it went, when it went. */
  destination: Destination | undefined;
}

export interface OrphanedByeOptions {
  /** The UA's clock (the rebuilt dialog keeps no timer, but takes one). */
  clock: Clock;
  /** Header lines to add, e.g. `[['reason', 'Q.850;cause=41']]` (RFC 3326). */
  headers?: ReadonlyArray<readonly [string, string]>;
  /** The BYE's CSeq is the snapshot's local CSeq plus this; default 100 (at least 1). */
  cseqMargin?: number;
  /** Told when the request goes out (a SIP log). */
  onSent?: OnSent;
}

export type OnSent = (requestLine: string, destination: Destination) => void;

export const DEFAULT_ORPHAN_CSEQ_MARGIN = 100;

/** The snapshot of the INVITE `request` (as sent, with its Via) to `destination`. */
export function inviteSnapshotOf(request: SipRequest, destination: Destination): InviteSnapshot {
  return {
    version: 1,
    requestUri: request.requestUri,
    via: request.topVia.toString(),
    from: request.header('from') ?? '',
    to: request.header('to') ?? '',
    callId: request.callId,
    cseq: request.cseq.seq,
    routes: [...request.headerValues('route')],
    destination: { transport: destination.transport, address: destination.address, port: destination.port },
  };
}

/** Sends a BYE for the dialog of `snapshot` and resolves with its final response (never rejects for SIP reasons). */
export async function sendOrphanedBye(ua: UserAgent, snapshot: DialogSnapshot, options: OrphanedByeOptions): Promise<OrphanedRequestResult> {
  const margin = options.cseqMargin ?? DEFAULT_ORPHAN_CSEQ_MARGIN;
  const base = snapshot.localCSeq ?? 0;
  // The dialog sends localCSeq + 1: the BYE's CSeq is the persisted one plus the margin.
  const localCSeq = Math.min(base + margin - 1, MAX_CSEQ - 1);
  // A UAS dialog that never sent a request has an empty local CSeq: any start value will do (§12.2.1.1).
  const dialog = SessionDialog.fromSnapshot({ ...snapshot, state: 'confirmed', localCSeq }, { clock: options.clock });
  const { request, nextHop } = dialog.createRequest('BYE', options.headers ? { headers: options.headers } : {});
  let destination: Destination | undefined;
  try {
    destination = (await ua.resolve(nextHop))[0];
  } catch {
    destination = undefined;
  }
  if (destination === undefined) return { status: 503, reason: 'Service Unavailable', fromWire: false, requestLine: `BYE ${request.requestUri}`, destination };
  return send(ua, request, destination, options.onSent);
}

/** Sends a CANCEL for the INVITE of `snapshot` (RFC 3326 `reason` if given) and resolves with its final response. */
export function sendOrphanedCancel(ua: UserAgent, snapshot: InviteSnapshot, reason?: string, onSent?: OnSent): Promise<OrphanedRequestResult> {
  const invite = new SipRequest('INVITE', snapshot.requestUri);
  invite.addHeader('via', snapshot.via);
  for (const route of snapshot.routes) invite.addHeader('route', route);
  invite.addHeader('from', snapshot.from);
  invite.addHeader('to', snapshot.to);
  invite.addHeader('call-id', snapshot.callId);
  invite.addHeader('cseq', `${snapshot.cseq} INVITE`);
  return send(ua, createCancel(invite, reason), snapshot.destination, onSent);
}

function send(ua: UserAgent, request: SipRequest, destination: Destination, onSent: OnSent | undefined): Promise<OrphanedRequestResult> {
  const requestLine = `${request.method} ${request.requestUri}`;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: Omit<OrphanedRequestResult, 'requestLine' | 'destination'>): void => {
      if (settled) return;
      settled = true;
      resolve({ ...result, requestLine, destination });
    };
    try {
      ua.transactions.sendRequest(request, destination, {
        onResponse: (response: SipResponse) => {
          if (response.status >= 200) settle({ status: response.status, reason: response.reason, fromWire: true });
        },
        onFailure: (failure) =>
          settle(failure.kind === 'timeout' ? { status: 408, reason: 'Request Timeout', fromWire: false } : { status: 503, reason: 'Service Unavailable', fromWire: false }),
      });
      onSent?.(requestLine, destination);
    } catch {
      settle({ status: 503, reason: 'Service Unavailable', fromWire: false });
    }
  });
}
