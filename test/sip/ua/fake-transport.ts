/**
 * A socket-free stand-in for TransportLayer under a UserAgent driven by a ManualClock: it
 * records every message sent (as the peer would see it: the bytes, parsed again), hands up
 * messages built as text and parsed, and answers createVia / localEndpoint / responseTargetFor
 * as TransportLayer does for a UA on 10.0.0.1:5060. The peer is Bob's phone, 192.0.2.20:5060.
 */
import { EventEmitter } from 'node:events';
import { ManualClock } from '../../../src/sip/clock.js';
import { parseMessage, serializeMessage, SipRequest, SipResponse, type SipMessageAny } from '../../../src/sip/message/index.js';
import type { TimerValues } from '../../../src/sip/timers.js';
import {
  formatVia,
  responseTarget,
  type Destination,
  type InboundMessage,
  type ResponseTarget,
  type Source,
  type TransportLayer,
  type TransportName,
} from '../../../src/sip/transport/index.js';
import { UserAgent, type OutgoingInviteEvents, type OutgoingInviteSession, type UserAgentOptions } from '../../../src/sip/ua/index.js';

export const LOCAL = { host: '10.0.0.1', port: 5060 } as const;
export const BOB_UDP: Source = { transport: 'udp', address: '192.0.2.20', port: 5060 };
export const BOB_TCP: Source = { transport: 'tcp', address: '192.0.2.20', port: 5060 };
export const BOB_URI = 'sip:bob@192.0.2.20:5060';
export const BOB_CONTACT = '<sip:bob@192.0.2.20:5060>';
export const BOB_TAG = 'bob-tag-1';
export const FROM = '"Click to Dial" <sip:ctd@ctd.example.com>';
export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY';
export const PRODUCT = 'ctd-test/1.0';

export interface Sent {
  /** The message as the peer gets it: serialised at send() and parsed again. */
  message: SipMessageAny;
  /** The bytes handed to send(). */
  bytes: Buffer;
  destination: Destination;
  /** clock.now() at send(). */
  at: number;
}

export class FakeTransport extends EventEmitter<{ message: [event: InboundMessage] }> {
  readonly sent: Sent[] = [];
  /** Connection ids responseTargetFor takes as open. */
  readonly openConnections = new Set<string>();
  private branches = 0;

  constructor(private readonly clock: ManualClock) {
    super();
  }

  /** The UA wants a TransportLayer; this object has every member it uses. */
  get asTransportLayer(): TransportLayer {
    return this as unknown as TransportLayer;
  }

  send(message: SipMessageAny, destination: Destination): Promise<{ transport: TransportName; address: string; port: number; bytes: number }> {
    const bytes = serializeMessage(message);
    this.sent.push({ message: parseMessage(bytes), bytes, destination: { ...destination }, at: this.clock.now() });
    return Promise.resolve({ transport: destination.transport, address: destination.address, port: destination.port, bytes: bytes.length });
  }

  createVia(transport: TransportName, branch = `z9hG4bKfake${++this.branches}`): string {
    return formatVia(transport, LOCAL.host, LOCAL.port, branch);
  }

  localEndpoint(_transport: TransportName): { host: string; port: number } {
    return { host: LOCAL.host, port: LOCAL.port };
  }

  isConnectionOpen(connectionId: string): boolean {
    return this.openConnections.has(connectionId);
  }

  responseTargetFor(request: SipRequest, connectionId?: string): ResponseTarget {
    return responseTarget(request.topVia, connectionId === undefined ? undefined : { id: connectionId, open: this.isConnectionOpen(connectionId) });
  }

  /** Hands a message up as the transport layer would, from Bob's phone unless told otherwise. */
  deliver(message: SipMessageAny, source: Source = BOB_UDP, connectionId?: string): void {
    const event: InboundMessage = { message, source, receivedAt: this.clock.now() };
    if (connectionId !== undefined) event.connectionId = connectionId;
    this.emit('message', event);
  }

  // ---- what was sent ----------------------------------------------------------------------

  /** "INVITE", "ACK", "180", … in sending order. */
  get log(): string[] {
    return this.sent.map((s) => describe(s.message));
  }

  sends(what: string): Sent[] {
    return this.sent.filter((s) => describe(s.message) === what);
  }

  requests(method: string): SipRequest[] {
    return this.sends(method).map((s) => s.message as SipRequest);
  }

  /** Responses sent with this status, optionally only those to `method`. */
  responses(status: number, method?: string): SipResponse[] {
    return this.sent
      .filter((s) => !s.message.isRequest && s.message.status === status && (method === undefined || s.message.cseq.method === method))
      .map((s) => s.message as SipResponse);
  }

  /** Instants at which `what` was sent. */
  times(what: string): number[] {
    return this.sends(what).map((s) => s.at);
  }

  last(method: string): SipRequest {
    const all = this.requests(method);
    const found = all[all.length - 1];
    if (!found) throw new Error(`no ${method} was sent (sent: ${this.log.join(', ') || 'nothing'})`);
    return found;
  }

  clear(): void {
    this.sent.length = 0;
  }
}

export function describe(message: SipMessageAny): string {
  return message.isRequest ? message.method : String(message.status);
}

// ---- time ---------------------------------------------------------------------------------

/** Lets promise chains (locating the next hop, sending) run to their end. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Moves the clock on and lets whatever the timers started finish. */
export async function advance(clock: ManualClock, ms: number): Promise<void> {
  clock.advance(ms);
  await flush();
}

/** Moves the clock to `at` (absolute) in one step. */
export async function advanceTo(clock: ManualClock, at: number): Promise<void> {
  if (at < clock.now()) throw new Error(`cannot go back from ${clock.now()} to ${at}`);
  await advance(clock, at - clock.now());
}

// ---- the UA under test ----------------------------------------------------------------------

export interface Env {
  clock: ManualClock;
  net: FakeTransport;
  ua: UserAgent;
  /** What the UA reported through internalError. */
  errors: unknown[];
}

export function createEnv(options: Partial<UserAgentOptions> & { timers?: TimerValues } = {}): Env {
  const clock = new ManualClock();
  const net = new FakeTransport(clock);
  const ua = new UserAgent({ transport: net.asTransportLayer, clock, product: PRODUCT, ...options });
  const errors: unknown[] = [];
  ua.on('internalError', (error) => errors.push(error));
  return { clock, net, ua, errors };
}

/** Every event a session emits, in order, with the instant. */
export function recordEvents(session: OutgoingInviteSession, clock: ManualClock): { name: keyof OutgoingInviteEvents; at: number; args: unknown[] }[] {
  const events: { name: keyof OutgoingInviteEvents; at: number; args: unknown[] }[] = [];
  const names: (keyof OutgoingInviteEvents)[] = ['provisional', 'answered', 'confirmed', 'failed', 'ended', 'ack'];
  for (const name of names) session.on(name, (...args: unknown[]) => events.push({ name, at: clock.now(), args }));
  return events;
}

// ---- messages from the peer, built as text ---------------------------------------------------

/** Parses header lines (empty ones dropped) and a body, with the right Content-Length. */
export function parseText(lines: readonly string[], body = ''): SipMessageAny {
  const head = lines.filter((line) => line !== '');
  return parseMessage(Buffer.from(`${head.join('\r\n')}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, 'utf8'));
}

export interface ResponseSpec {
  reason?: string;
  /** Added to To when the request's To has none. Default: BOB_TAG above 100, none for 100. */
  toTag?: string | null;
  contact?: string | null;
  recordRoute?: string;
  headers?: readonly string[];
  body?: string;
  contentType?: string;
}

const REASONS: Record<number, string> = {
  100: 'Trying',
  180: 'Ringing',
  183: 'Session Progress',
  200: 'OK',
  401: 'Unauthorized',
  407: 'Proxy Authentication Required',
  481: 'Call/Transaction Does Not Exist',
  486: 'Busy Here',
  487: 'Request Terminated',
  491: 'Request Pending',
};

/** The peer's response to a request we sent (as sent: its Vias, From, To, Call-ID, CSeq copied). */
export function responseTo(request: SipRequest, status: number, spec: ResponseSpec = {}): SipResponse {
  const toTag = spec.toTag === undefined ? (status > 100 ? BOB_TAG : null) : spec.toTag;
  const to = request.header('to')!;
  const contact = spec.contact === undefined ? (status > 100 && status < 300 && request.method === 'INVITE' ? BOB_CONTACT : null) : spec.contact;
  const message = parseText(
    [
      `SIP/2.0 ${status} ${spec.reason ?? REASONS[status] ?? 'Whatever'}`,
      ...request.headerValues('via').map((via) => `Via: ${via}`),
      spec.recordRoute ? `Record-Route: ${spec.recordRoute}` : '',
      `From: ${request.header('from')!}`,
      `To: ${to}${toTag !== null && request.to.tag === undefined ? `;tag=${toTag}` : ''}`,
      `Call-ID: ${request.callId}`,
      `CSeq: ${request.header('cseq')!}`,
      contact ? `Contact: ${contact}` : '',
      ...(spec.headers ?? []),
      spec.body !== undefined ? `Content-Type: ${spec.contentType ?? 'application/sdp'}` : '',
    ],
    spec.body ?? '',
  );
  if (!(message instanceof SipResponse)) throw new Error('expected a response');
  return message;
}

export interface DialogIds {
  callId: string;
  /** Our tag: the To tag of the peer's requests. */
  localTag: string;
  /** The peer's tag. */
  remoteTag: string;
}

export interface PeerRequestSpec {
  method: string;
  cseq: number;
  /** The CSeq method, when it differs (never, but for tests of broken peers). */
  cseqMethod?: string;
  branch?: string;
  transport?: 'UDP' | 'TCP';
  contact?: string | null;
  headers?: readonly string[];
  body?: string;
  contentType?: string;
}

/** A request from Bob's phone inside the dialog `ids`. */
export function peerRequest(ids: DialogIds, spec: PeerRequestSpec): SipRequest {
  const contact = spec.contact === undefined ? (spec.method === 'INVITE' || spec.method === 'UPDATE' ? BOB_CONTACT : null) : spec.contact;
  const message = parseText(
    [
      `${spec.method} sip:ctd@10.0.0.1:5060 SIP/2.0`,
      `Via: SIP/2.0/${spec.transport ?? 'UDP'} 192.0.2.20:5060;branch=${spec.branch ?? `z9hG4bKbob-${spec.method.toLowerCase()}-${spec.cseq}`}`,
      'Max-Forwards: 70',
      `From: <sip:bob@192.0.2.20>;tag=${ids.remoteTag}`,
      `To: ${FROM};tag=${ids.localTag}`,
      `Call-ID: ${ids.callId}`,
      `CSeq: ${spec.cseq} ${spec.cseqMethod ?? spec.method}`,
      contact ? `Contact: ${contact}` : '',
      ...(spec.headers ?? []),
      spec.body !== undefined ? `Content-Type: ${spec.contentType ?? 'application/sdp'}` : '',
    ],
    spec.body ?? '',
  );
  if (!(message instanceof SipRequest)) throw new Error('expected a request');
  return message;
}

/** A request from Bob's phone outside any dialog (no To tag). */
export function outOfDialogRequest(method: string, spec: { cseq?: number; branch?: string; callId?: string; headers?: readonly string[]; toTag?: string; body?: string; requestUri?: string } = {}): SipRequest {
  const cseq = spec.cseq ?? 1;
  const message = parseText(
    [
      `${method} ${spec.requestUri ?? 'sip:ctd@10.0.0.1:5060'} SIP/2.0`,
      `Via: SIP/2.0/UDP 192.0.2.20:5060;branch=${spec.branch ?? `z9hG4bKout-${method.toLowerCase()}-${cseq}`}`,
      'Max-Forwards: 70',
      'From: Bob <sip:bob@192.0.2.20>;tag=bob-out-1',
      `To: <sip:ctd@10.0.0.1>${spec.toTag ? `;tag=${spec.toTag}` : ''}`,
      `Call-ID: ${spec.callId ?? 'out-of-dialog-1@192.0.2.20'}`,
      `CSeq: ${cseq} ${method}`,
      method === 'INVITE' ? 'Contact: <sip:bob@192.0.2.20:5060>' : '',
      ...(spec.headers ?? []),
      spec.body !== undefined ? 'Content-Type: application/sdp' : '',
    ],
    spec.body ?? '',
  );
  if (!(message instanceof SipRequest)) throw new Error('expected a request');
  return message;
}

/** An SDP offer or answer (signalling only). */
export function sdp(version: number, address = '10.0.0.50', port = 49170): string {
  return ['v=0', `o=ctd 2890844526 ${version} IN IP4 ${address}`, 's=-', `c=IN IP4 ${address}`, 't=0 0', `m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');
}

export const OFFER = sdp(1);
export const ANSWER = sdp(1, '192.0.2.20', 30000);
