/**
 * Shared pieces for the transaction tests: a ManualClock-driven context whose `send` records
 * every (message, destination, instant) and can be told to reject, TU recorders, and realistic
 * messages between the click-to-dial controller (ctd.example.com, 10.0.0.1) and Bob's phone
 * (192.0.2.20) through our proxy p1.example.com.
 */
import { ManualClock } from '../../../src/sip/clock.js';
import { createResponse, parseMessage, serializeMessage, SipRequest, SipResponse, type SipMessageAny } from '../../../src/sip/message/index.js';
import { defaultTimerValues, type TimerValues } from '../../../src/sip/timers.js';
import type { TransactionContext, TransactionFailure, TransactionTransport } from '../../../src/sip/transaction/index.js';
import { responseTarget, TransportError, type Destination, type InboundMessage, type TransportName } from '../../../src/sip/transport/index.js';

export const CALL_ID = 'f81d4fae-7dec-11d0-a765@ctd.example.com';
export const FROM_TAG = '1928301774';
export const BRANCH = 'z9hG4bKnashds8';

export const UDP_BOB: Destination = { transport: 'udp', address: '192.0.2.20', port: 5060 };
export const TCP_BOB: Destination = { transport: 'tcp', address: '192.0.2.20', port: 5060 };

export interface Sent {
  message: SipMessageAny;
  destination: Destination;
  /** clock.now() when send() was called. */
  at: number;
}

/** The fake transport: records every send, and rejects those `rejectIf` picks. */
export class FakeSend {
  readonly sent: Sent[] = [];
  /** Return true to make this send reject with a TransportError. */
  rejectIf: ((sent: Sent) => boolean) | undefined;
  /** The errors the rejected sends rejected with. */
  readonly errors: TransportError[] = [];

  constructor(private readonly clock: ManualClock) {}

  readonly send = (message: SipMessageAny, destination: Destination): Promise<unknown> => {
    const sent: Sent = { message, destination, at: this.clock.now() };
    this.sent.push(sent);
    if (this.rejectIf?.(sent)) {
      const error = new TransportError('HOST_UNREACHABLE', `no route to ${destination.address}`, destination);
      this.errors.push(error);
      return Promise.reject(error);
    }
    return Promise.resolve({ ok: true });
  };

  /** Instants of the sends whose message `describe()`s as `what` ("INVITE", "ACK", "486"). */
  times(what: string): number[] {
    return this.sent.filter((s) => describe(s.message) === what).map((s) => s.at);
  }

  /** What was sent, in order, as "METHOD" or "status". */
  get log(): string[] {
    return this.sent.map((s) => describe(s.message));
  }

  clear(): void {
    this.sent.length = 0;
  }
}

export function describe(message: SipMessageAny): string {
  return message.isRequest ? message.method : String(message.status);
}

export interface Harness {
  clock: ManualClock;
  net: FakeSend;
  context: TransactionContext;
}

export function harness(timers: TimerValues = defaultTimerValues): Harness {
  const clock = new ManualClock();
  const net = new FakeSend(clock);
  return { clock, net, context: { clock, timers, send: net.send } };
}

/** Lets rejected sends reach their `.catch` handlers. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A client-transaction TU that records what it is told, and when. */
export class ClientTu {
  readonly responses: { status: number; at: number; response: SipResponse }[] = [];
  readonly failures: { failure: TransactionFailure; at: number }[] = [];
  readonly terminatedAt: number[] = [];

  constructor(private readonly clock: ManualClock) {}

  onResponse(response: SipResponse): void {
    this.responses.push({ status: response.status, at: this.clock.now(), response });
  }
  onFailure(failure: TransactionFailure): void {
    this.failures.push({ failure, at: this.clock.now() });
  }
  onTerminated(): void {
    this.terminatedAt.push(this.clock.now());
  }

  get statuses(): number[] {
    return this.responses.map((r) => r.status);
  }
}

/** A server-transaction TU. */
export class ServerTu {
  readonly failures: { failure: TransactionFailure; at: number }[] = [];
  readonly terminatedAt: number[] = [];

  constructor(private readonly clock: ManualClock) {}

  onFailure(failure: TransactionFailure): void {
    this.failures.push({ failure, at: this.clock.now() });
  }
  onTerminated(): void {
    this.terminatedAt.push(this.clock.now());
  }
}

// ---- messages -------------------------------------------------------------------------------

/** Parses header lines (indentation stripped, empty lines dropped) with the right Content-Length. */
export function parse(head: string, body = ''): SipMessageAny {
  const lines = head
    .trim()
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  return parseMessage(Buffer.from(`${lines.join('\r\n')}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, 'utf8'));
}

export function parseRequest(head: string, body = ''): SipRequest {
  const message = parse(head, body);
  if (!(message instanceof SipRequest)) throw new Error('expected a request');
  return message;
}

/** The message as the peer would see it: serialised and parsed again (a fresh object each time). */
export function overTheWire<T extends SipMessageAny>(message: T): T {
  return parseMessage(serializeMessage(message)) as T;
}

export interface OutgoingOptions {
  transport?: TransportName;
  branch?: string;
  /** Without a Via (the transaction layer adds it). */
  noVia?: boolean;
  cseq?: number;
}

/** Our INVITE to Bob, through p1.example.com, with an offer. */
export function outgoingInvite(options: OutgoingOptions = {}): SipRequest {
  const transport = (options.transport ?? 'udp').toUpperCase();
  return parseRequest(
    `
    INVITE sip:bob@biloxi.example.com SIP/2.0
    ${options.noVia ? '' : `Via: SIP/2.0/${transport} 10.0.0.1:5060;branch=${options.branch ?? BRANCH};rport`}
    Max-Forwards: 70
    Route: <sip:p1.example.com;lr>
    Route: <sip:p2.example.net;lr>
    To: Bob <sip:bob@biloxi.example.com>
    From: "Click to Dial" <sip:ctd@ctd.example.com>;tag=${FROM_TAG}
    Call-ID: ${CALL_ID}
    CSeq: ${options.cseq ?? 314159} INVITE
    Contact: <sip:ctd@10.0.0.1:5060>
    Authorization: Digest username="ctd", realm="biloxi.example.com", nonce="abc", uri="sip:bob@biloxi.example.com", response="0123456789abcdef0123456789abcdef"
    Content-Type: application/sdp
    `,
    'v=0\r\no=ctd 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n',
  );
}

/** One of our non-INVITE requests in a dialog with Bob (BYE by default). */
export function outgoingRequest(method = 'BYE', options: OutgoingOptions = {}): SipRequest {
  const transport = (options.transport ?? 'udp').toUpperCase();
  return parseRequest(`
    ${method} sip:bob@192.0.2.20:5060 SIP/2.0
    ${options.noVia ? '' : `Via: SIP/2.0/${transport} 10.0.0.1:5060;branch=${options.branch ?? 'z9hG4bKbye77'};rport`}
    Max-Forwards: 70
    To: Bob <sip:bob@biloxi.example.com>;tag=314159bob
    From: "Click to Dial" <sip:ctd@ctd.example.com>;tag=${FROM_TAG}
    Call-ID: ${CALL_ID}
    CSeq: ${options.cseq ?? 314160} ${method}
  `);
}

/** A response to one of our requests, as it comes back from the wire (Via stamped by the peer). */
export function responseTo(request: SipRequest, status: number, toTag: string | undefined = status > 100 ? 'b0b7a9' : undefined): SipResponse {
  const response = createResponse(request, status, undefined, toTag);
  return overTheWire(response);
}

export interface IncomingOptions {
  method?: string;
  /** Top Via branch; `null` for none (RFC 2543). */
  branch?: string | null;
  transport?: 'UDP' | 'TCP';
  sentBy?: string;
  cseq?: number;
  toTag?: string;
  fromTag?: string;
  requestUri?: string;
  callId?: string;
}

/** A request from Bob's phone to us (an INVITE by default). */
export function incomingRequest(options: IncomingOptions = {}): SipRequest {
  const method = options.method ?? 'INVITE';
  const branch = options.branch === undefined ? 'z9hG4bKbob1' : options.branch;
  const cseqMethod = method;
  return parseRequest(`
    ${method} ${options.requestUri ?? 'sip:ctd@10.0.0.1:5060'} SIP/2.0
    Via: SIP/2.0/${options.transport ?? 'UDP'} ${options.sentBy ?? '192.0.2.20:5060'}${branch === null ? '' : `;branch=${branch}`}
    Max-Forwards: 70
    To: <sip:ctd@ctd.example.com>${options.toTag ? `;tag=${options.toTag}` : ''}
    From: Bob <sip:bob@biloxi.example.com>;tag=${options.fromTag ?? 'bobtag1'}
    Call-ID: ${options.callId ?? 'bob-call-1@192.0.2.20'}
    CSeq: ${options.cseq ?? 1} ${cseqMethod}
    Contact: <sip:bob@192.0.2.20:5060>
  `);
}

/** What the transport layer hands up for a request from Bob. */
export function inbound(message: SipMessageAny, transport: TransportName = 'udp', connectionId?: string): InboundMessage {
  const event: InboundMessage = { message, source: { transport, address: '192.0.2.20', port: 5060 }, receivedAt: 0 };
  if (connectionId !== undefined) event.connectionId = connectionId;
  return event;
}

/** A TransactionTransport over a FakeSend: Vias name 10.0.0.1:5060 with numbered branches. */
export class FakeTransport implements TransactionTransport {
  private branches = 0;
  /** Connection ids taken as open by responseTargetFor. */
  readonly openConnections = new Set<string>();
  readonly send: TransactionTransport['send'];

  constructor(net: FakeSend) {
    this.send = net.send;
  }

  createVia(transport: TransportName, branch = `z9hG4bKlayer${++this.branches}`): string {
    return `SIP/2.0/${transport.toUpperCase()} 10.0.0.1:5060;branch=${branch};rport`;
  }

  responseTargetFor(request: SipRequest, connectionId?: string): ReturnType<TransactionTransport['responseTargetFor']> {
    return responseTarget(request.topVia, connectionId === undefined ? undefined : { id: connectionId, open: this.openConnections.has(connectionId) });
  }
}
