/**
 * Realistic messages for the dialog tests: the click-to-dial controller (ctd.example.com,
 * 10.0.0.1) calls Alice through two record-routing proxies, p1.example.com (ours) and
 * p2.example.net (Alice's).
 */
import { parseMessage, SipRequest, SipResponse } from '../../../src/sip/message/index.js';

/** Parses header lines (indentation stripped) and a body, with the right Content-Length. */
export function parse(head: string, body = ''): SipRequest | SipResponse {
  const lines = head
    .trim()
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const text = `${lines.join('\r\n')}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  return parseMessage(Buffer.from(text, 'utf8'));
}

export function parseRequest(head: string, body = ''): SipRequest {
  const message = parse(head, body);
  if (!(message instanceof SipRequest)) throw new Error('expected a request');
  return message;
}

export function parseResponse(head: string, body = ''): SipResponse {
  const message = parse(head, body);
  if (!(message instanceof SipResponse)) throw new Error('expected a response');
  return message;
}

export const CALL_ID = 'a84b4c76e66710@ctd.example.com';
export const LOCAL_TAG = '1928301774';
export const ALICE_CONTACT = 'sip:alice@192.0.2.10:5062;transport=udp';

export function sdp(version: number, address = '10.0.0.50'): string {
  return [
    'v=0',
    `o=ctd 2890844526 ${version} IN IP4 ${address}`,
    's=-',
    `c=IN IP4 ${address}`,
    't=0 0',
    'm=audio 49170 RTP/AVP 0 8 101',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    '',
  ].join('\r\n');
}

/** Our INVITE to Alice; `withOffer` false is the late-offer INVITE of RFC 3725 flow I. */
export function inviteToAlice(options: { withOffer?: boolean; cseq?: number; extra?: string } = {}): SipRequest {
  const withOffer = options.withOffer ?? true;
  return parseRequest(
    `
    INVITE sip:alice@example.com SIP/2.0
    Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds
    Max-Forwards: 70
    Route: <sip:p1.example.com;lr>
    To: Alice <sip:alice@example.com>
    From: "Click to Dial" <sip:ctd@ctd.example.com>;tag=${LOCAL_TAG}
    Call-ID: ${CALL_ID}
    CSeq: ${options.cseq ?? 314159} INVITE
    Contact: <sip:ctd@10.0.0.1:5060>
    Supported: 100rel, timer
    ${options.extra ?? ''}
    ${withOffer ? 'Content-Type: application/sdp' : ''}
    `,
    withOffer ? sdp(1) : '',
  );
}

interface ResponseSpec {
  status: number;
  reason: string;
  toTag?: string | undefined;
  cseq?: number;
  method?: string;
  recordRoute?: string | undefined;
  contact?: string | undefined;
  extra?: string;
  body?: string;
}

/** A response from Alice's side to one of our requests (by default to the INVITE). */
export function fromAlice(spec: ResponseSpec): SipResponse {
  const recordRoute = 'recordRoute' in spec ? spec.recordRoute : '<sip:p2.example.net;lr>, <sip:p1.example.com;lr>';
  const contact = 'contact' in spec ? spec.contact : `<${ALICE_CONTACT}>`;
  const toTag = 'toTag' in spec ? spec.toTag : 'as83kd9bs';
  return parseResponse(
    `
    SIP/2.0 ${spec.status} ${spec.reason}
    Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;received=10.0.0.1
    ${recordRoute ? `Record-Route: ${recordRoute}` : ''}
    To: Alice <sip:alice@example.com>${toTag ? `;tag=${toTag}` : ''}
    From: "Click to Dial" <sip:ctd@ctd.example.com>;tag=${LOCAL_TAG}
    Call-ID: ${CALL_ID}
    CSeq: ${spec.cseq ?? 314159} ${spec.method ?? 'INVITE'}
    ${contact ? `Contact: ${contact}` : ''}
    ${spec.extra ?? ''}
    ${spec.body ? 'Content-Type: application/sdp' : ''}
    `,
    spec.body ?? '',
  );
}

interface RequestSpec {
  method: string;
  cseq: number;
  toTag?: string;
  fromTag?: string;
  contact?: string | undefined;
  extra?: string;
  body?: string;
  contentType?: string;
}

/** A request from Alice to us within the dialog (she is the remote party). */
export function requestFromAlice(spec: RequestSpec): SipRequest {
  const contact = 'contact' in spec ? spec.contact : `<${ALICE_CONTACT}>`;
  return parseRequest(
    `
    ${spec.method} sip:ctd@10.0.0.1:5060 SIP/2.0
    Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bK-p1-${spec.cseq}
    Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-alice-${spec.method}-${spec.cseq};received=192.0.2.10
    Max-Forwards: 69
    To: "Click to Dial" <sip:ctd@ctd.example.com>;tag=${spec.toTag ?? LOCAL_TAG}
    From: Alice <sip:alice@example.com>;tag=${spec.fromTag ?? 'as83kd9bs'}
    Call-ID: ${CALL_ID}
    CSeq: ${spec.cseq} ${spec.method}
    ${contact ? `Contact: ${contact}` : ''}
    ${spec.extra ?? ''}
    ${spec.body ? `Content-Type: ${spec.contentType ?? 'application/sdp'}` : ''}
    `,
    spec.body ?? '',
  );
}

/** Header lines of a serialised request, for readable assertions. */
export function headerLines(message: SipRequest | SipResponse, name: string): string[] {
  return message.headerValues(name);
}
