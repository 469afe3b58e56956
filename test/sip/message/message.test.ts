import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SipParseError } from '../../../src/sip/errors.js';
import {
  StreamFramer,
  createResponse,
  parseMessage,
  serializeMessage,
  validateMessage,
  type SipRequest,
  type SipResponse,
} from '../../../src/sip/message/index.js';

export const INVITE = [
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8;rport',
  'v: SIP/2.0/TCP proxy.example.com:5070;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.1',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.example.com>',
  'f: "Alice A." <sip:alice@atlanta.example.com>;tag=1928301774',
  'i: a84b4c76e66710@pc33.atlanta.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.example.com>, "Other" <sip:alice@[2001:db8::1]:5062;transport=tcp>;q=0.5',
  'Record-Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>',
  'Record-Route: <sip:p3.example.com;lr>',
  'Supported: timer, 100rel',
  'Content-Type: application/sdp',
  'Content-Length: 5',
  '',
  'v=0\r\n',
].join('\r\n');

function parse(text: string): SipRequest | SipResponse {
  const message = parseMessage(Buffer.from(text));
  validateMessage(message);
  return message;
}

describe('SIP messages', () => {
  it('reads compact forms, multi-valued headers and parameters', () => {
    const m = parse(INVITE) as SipRequest;
    assert.equal(m.method, 'INVITE');
    assert.equal(m.vias.length, 2);
    assert.equal(m.topVia.branch, 'z9hG4bKnashds8');
    assert.equal(m.topVia.rport, true);
    assert.equal(m.vias[1]!.port, 5070);
    assert.equal(m.vias[1]!.received, '192.0.2.1');
    assert.equal(m.from.displayName, 'Alice A.');
    assert.equal(m.from.tag, '1928301774');
    assert.equal(m.to.tag, undefined);
    assert.equal(m.callId, 'a84b4c76e66710@pc33.atlanta.example.com');
    assert.deepEqual(m.cseq, { seq: 314159, method: 'INVITE' });
    assert.equal(m.contacts.length, 2);
    assert.equal(m.contacts[1]!.params.get('q'), '0.5');
    assert.equal(m.recordRoutes.map((r) => r.uri.toString()).join(' '), 'sip:p1.example.com;lr sip:p2.example.com;lr sip:p3.example.com;lr');
    assert.deepEqual(m.optionTags('supported'), ['timer', '100rel']);
    assert.equal(m.body.toString(), 'v=0\r\n');
    assert.equal(m.header('CALL-ID'), m.header('i'));
  });

  it('serializes with long names and a Content-Length that matches the body', () => {
    const m = parse(INVITE);
    m.body = Buffer.from('v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n');
    const text = serializeMessage(m).toString();
    assert.match(text, /^INVITE sip:bob@biloxi.example.com SIP\/2.0\r\n/);
    assert.match(text, /\r\nFrom: "Alice A." <sip:alice@atlanta.example.com>;tag=1928301774\r\n/);
    assert.match(text, /\r\nCall-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n/);
    assert.match(text, new RegExp(`\\r\\nContent-Length: ${m.body.length}\\r\\n\\r\\nv=0`));
    assert.equal(text.match(/Content-Length/g)!.length, 1);
  });

  it('re-parses typed values after a header is changed', () => {
    const m = parse(INVITE);
    assert.equal(m.cseq.seq, 314159);
    m.setHeader('CSeq', '314160 INVITE');
    assert.equal(m.cseq.seq, 314160);
    m.prependHeader('via', 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKnew');
    assert.equal(m.topVia.branch, 'z9hG4bKnew');
    assert.equal(m.vias.length, 3);
    m.removeHeader('record-route');
    assert.equal(m.recordRoutes.length, 0);
  });

  it('builds a response that copies Via, From, To, Call-ID and CSeq and adds a To tag', () => {
    const request = parse(INVITE) as SipRequest;
    const response = createResponse(request, 180, undefined, 'abc123');
    const again = parse(serializeMessage(response).toString()) as SipResponse;
    assert.equal(again.status, 180);
    assert.equal(again.reason, 'Ringing');
    assert.equal(again.vias.length, 2);
    assert.equal(again.to.tag, 'abc123');
    assert.equal(again.from.tag, '1928301774');
    assert.deepEqual(again.cseq, request.cseq);
    const trying = createResponse(request, 100, undefined, 'abc123');
    assert.equal(trying.to.tag, undefined);
  });

  it('rejects a message larger than the limit', () => {
    assert.throws(() => parseMessage(Buffer.from(INVITE), { maxMessageSize: 100, maxHeaders: 50 }), (e: unknown) => e instanceof SipParseError && e.code === 'TOO_LARGE');
  });

  it('rejects too many header lines', () => {
    const many = INVITE.replace('Max-Forwards: 70', Array.from({ length: 40 }, (_, i) => `X-H${i}: ${i}`).join('\r\n'));
    assert.throws(() => parseMessage(Buffer.from(many), { maxMessageSize: 65535, maxHeaders: 30 }), (e: unknown) => e instanceof SipParseError && e.code === 'TOO_MANY_HEADERS');
  });

  it('accepts bare LF line ends', () => {
    const m = parse(INVITE.replace(/\r\n/g, '\n').replace('Content-Length: 5', 'Content-Length: 4'));
    assert.equal(m.callId, 'a84b4c76e66710@pc33.atlanta.example.com');
  });
});

describe('StreamFramer', () => {
  it('cuts messages split across chunks and several in one chunk', () => {
    const one = Buffer.from(INVITE);
    const framer = new StreamFramer();
    const both = Buffer.concat([one, one]);
    const out: Buffer[] = [];
    for (let i = 0; i < both.length; i += 7) out.push(...framer.push(both.subarray(i, i + 7)).messages);
    assert.equal(out.length, 2);
    assert.ok(out[0]!.equals(one));
    assert.equal(framer.buffered, 0);
    const again = framer.push(Buffer.concat([one, one, one.subarray(0, 10)]));
    assert.equal(again.messages.length, 2);
    assert.equal(framer.buffered, 10);
  });

  it('counts double-CRLF keep-alive pings between messages', () => {
    const framer = new StreamFramer();
    const result = framer.push(Buffer.concat([Buffer.from('\r\n\r\n'), Buffer.from(INVITE), Buffer.from('\r\n\r\n')]));
    assert.equal(result.pings, 2);
    assert.equal(result.messages.length, 1);
  });

  it('reports a broken Content-Length after delivering the good message before it', () => {
    const framer = new StreamFramer();
    const broken = Buffer.from(INVITE.replace('Content-Length: 5', 'Content-Length: -5'));
    const result = framer.push(Buffer.concat([Buffer.from(INVITE), broken]));
    assert.equal(result.messages.length, 1);
    assert.ok(result.error instanceof SipParseError);
    assert.equal(result.error.code, 'BAD_CONTENT_LENGTH');
    assert.ok(result.unframed!.equals(broken));
    assert.ok(framer.push(Buffer.from(INVITE)).error, 'a broken stream stays broken');
  });

  it('reports a header section that never ends within the size limit as TOO_LARGE (513)', () => {
    const framer = new StreamFramer({ maxMessageSize: 1000, maxHeaders: 100 });
    const result = framer.push(Buffer.alloc(2000, 'a'));
    assert.equal(result.error?.code, 'TOO_LARGE');
    assert.equal(result.error?.status, 513);
  });

  it('answers a ping split across two reads', () => {
    const framer = new StreamFramer();
    assert.equal(framer.push(Buffer.from('\r\n')).pings, 0);
    assert.equal(framer.push(Buffer.from('\r\n')).pings, 1);
  });
});
