import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createHeldAnswer,
  createNoMediaOffer,
  hasNoMediaLines,
  mediaDirection,
  mediaFormats,
  parseSdp,
  rtpEndpoints,
  writeSdp,
  type SessionDescription,
} from '../../src/sdp/index.js';
import { BARESIP_OFFER, G729_IPV6_OFFER, SIPP_OFFER, VIDEO_OFFER, sdp } from './fixtures.js';

/** What a peer would read: the held answer written and parsed again. */
function roundTrip(description: SessionDescription): SessionDescription {
  return parseSdp(writeSdp(description));
}

const shape = (description: SessionDescription) =>
  description.media.map((media, index) => `${media.type} ${media.port} ${media.protocol} ${mediaFormats(media).join(' ')} ${media.port === 0 ? '-' : mediaDirection(description, index)}`);

describe('held answer (RFC 3725 Flow III, ACK to A)', () => {
  it('answers a SIPp offer with PCMU, black-holed and inactive', () => {
    const { description, ringback } = createHeldAnswer(parseSdp(SIPP_OFFER));
    const answer = roundTrip(description);
    assert.deepEqual(shape(answer), ['audio 9 RTP/AVP 0 inactive']);
    assert.deepEqual(answer.connection, { version: 4, ip: '0.0.0.0' });
    assert.deepEqual(answer.media[0]?.rtp, [{ payload: 0, codec: 'PCMU', rate: 8000 }]);
    assert.equal(ringback, null);
  });

  it('keeps the number and order of m-lines, answering each accepted stream with one codec of the offer', () => {
    const offer = parseSdp(VIDEO_OFFER.concat('m=image 5000 udptl t38\r\nc=IN IP4 198.51.100.7\r\n', 'm=audio 0 RTP/AVP 0\r\n'));
    const answer = roundTrip(createHeldAnswer(offer).description);
    assert.deepEqual(shape(answer), [
      'audio 9 RTP/AVP 96 inactive',
      'video 9 RTP/AVP 98 inactive',
      // Unsupported media and a stream the offer disabled: rejected, m-line kept.
      'image 0 udptl t38 -',
      'audio 0 RTP/AVP 0 -',
    ]);
    // A's payload types and parameters travel with the chosen codec.
    assert.deepEqual(answer.media[0]?.rtp, [{ payload: 96, codec: 'OPUS', rate: 48000, encoding: 2 }]);
    assert.deepEqual(answer.media[1]?.fmtp, [{ payload: 98, config: 'profile-level-id=42801F; packetization-mode=1' }]);
  });

  it('never chooses telephone-event as the codec, and rejects a stream with nothing else acceptable', () => {
    const offer = parseSdp(BARESIP_OFFER);
    assert.deepEqual(shape(createHeldAnswer(offer).description), ['audio 9 RTP/AVP 111 inactive']);
    const restricted = createHeldAnswer(offer, { codecs: [{ name: 'pcma', clockRate: 8000 }] }).description;
    assert.deepEqual(shape(restricted), ['audio 9 RTP/AVP 8 inactive']);
    const none = createHeldAnswer(offer, { codecs: [{ name: 'AMR-WB' }] }).description;
    assert.deepEqual(shape(none), ['audio 0 RTP/AVP 111 -']);
  });

  it('points the first G.711 audio stream at our ringback sender, sendonly, and tells the engine where A listens', () => {
    const offer = parseSdp(VIDEO_OFFER.replace('m=audio 7078 RTP/AVP 96 8 97', 'm=audio 7078 RTP/AVP 96 0 8 97'));
    const { description, ringback } = createHeldAnswer(offer, { media: { kind: 'rtp-sender', address: '192.0.2.50', port: 40000 } });
    const answer = roundTrip(description);
    assert.deepEqual(shape(answer), ['audio 40000 RTP/AVP 0 sendonly', 'video 9 RTP/AVP 98 inactive']);
    assert.deepEqual(answer.connection, { version: 4, ip: '192.0.2.50' });
    // The video stream has no sender of ours: black-holed with a media-level c=.
    assert.deepEqual(answer.media[1]?.connection, { version: 4, ip: '0.0.0.0' });
    assert.equal(answer.media[0]?.connection, undefined);
    assert.deepEqual(ringback, {
      mediaIndex: 0,
      codec: { payloadType: 0, name: 'PCMU', clockRate: 8000, channels: 1, addOn: false },
      remoteAddress: '198.51.100.7',
      remotePort: 7078,
    });
  });

  it('falls back to a black hole when the sender cannot play any offered codec', () => {
    const offer = parseSdp(G729_IPV6_OFFER);
    const { description, ringback } = createHeldAnswer(offer, { media: { kind: 'rtp-sender', address: '2001:db8::50', port: 40000 } });
    assert.equal(ringback, null);
    const answer = roundTrip(description);
    assert.deepEqual(shape(answer), ['audio 9 RTP/AVP 18 inactive']);
    // RFC 3725 §5: the IPv6 equivalent of 0.0.0.0 for an IPv6 party.
    assert.deepEqual(answer.connection, { version: 6, ip: '::' });
  });

  it('mirrors the offered direction as RFC 3264 §6.1 requires', () => {
    const sendonlyOffer = parseSdp(SIPP_OFFER.concat('a=sendonly\r\n'));
    const ringbackToSendonly = createHeldAnswer(sendonlyOffer, { media: { kind: 'rtp-sender', address: '192.0.2.50', port: 40000 } });
    // A that only sends cannot be sent a tone: the stream is black-holed instead.
    assert.equal(ringbackToSendonly.ringback, null);
    assert.deepEqual(shape(ringbackToSendonly.description), ['audio 9 RTP/AVP 0 inactive']);
    assert.deepEqual(shape(createHeldAnswer(sendonlyOffer, { direction: 'sendrecv' }).description), ['audio 9 RTP/AVP 0 recvonly']);
    const recvonlyOffer = parseSdp(SIPP_OFFER.concat('a=recvonly\r\n'));
    assert.deepEqual(shape(createHeldAnswer(recvonlyOffer, { direction: 'sendrecv' }).description), ['audio 9 RTP/AVP 0 sendonly']);
  });

  it('uses the black-hole port it is given, never 0 (RFC 3264 §8.4)', () => {
    assert.deepEqual(shape(createHeldAnswer(parseSdp(SIPP_OFFER), { media: { kind: 'black-hole', port: 30000 } }).description), ['audio 30000 RTP/AVP 0 inactive']);
    assert.throws(() => createHeldAnswer(parseSdp(SIPP_OFFER), { media: { kind: 'black-hole', port: 0 } }), RangeError);
  });

  it('reads as a black hole to the party that receives it', () => {
    const [endpoint] = rtpEndpoints(roundTrip(createHeldAnswer(parseSdp(SIPP_OFFER)).description));
    assert.equal(endpoint?.blackHole, true);
    assert.equal(endpoint?.port, 9);
  });
});

describe('offer without media lines (RFC 3725 Flow IV)', () => {
  it('has v=, o=, s=, c= and t= only', () => {
    const body = writeSdp(createNoMediaOffer());
    assert.deepEqual(
      body.trimEnd().split('\r\n').map((line) => line.slice(0, 2)),
      ['v=', 'o=', 's=', 'c=', 't='],
    );
    assert.equal(hasNoMediaLines(parseSdp(body)), true);
  });

  it('takes the connection address it is given', () => {
    assert.deepEqual(createNoMediaOffer({ connectionAddress: '2001:db8::9' }).connection, { version: 6, ip: '2001:db8::9' });
  });

  it("recognises A's answer without media lines", () => {
    const answer = parseSdp(sdp('v=0', 'o=alice 2890844526 2890844526 IN IP4 192.0.2.10', 's=-', 't=0 0'));
    assert.equal(hasNoMediaLines(answer), true);
  });
});
