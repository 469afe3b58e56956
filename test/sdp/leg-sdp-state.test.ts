import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  answerInOfferOrder,
  createHeldAnswer,
  createLegSdpState,
  createNoMediaOffer,
  describeToLeg,
  hasCommonCodec,
  holdDescription,
  mediaFormats,
  noteDescriptionFromLeg,
  parseSdp,
  reconcileMediaLines,
  type LegSdpState,
  type SessionDescription,
} from '../../src/sdp/index.js';
import { BARESIP_OFFER, SIPP_OFFER, VIDEO_OFFER, sdp } from './fixtures.js';

const CONTROLLER = '192.0.2.1';
const originLine = (body: string) => /^o=.*$/m.exec(body)?.[0];
const mLines = (description: SessionDescription) => description.media.map((media) => `${media.type} ${media.port} ${mediaFormats(media).join(' ')}`);

describe('origin towards a leg (RFC 3264 §8)', () => {
  it('keeps the origin and increments the version by one per new description', () => {
    let leg: LegSdpState = createLegSdpState({ address: CONTROLLER, sessionId: '2890844526', sessionVersion: 7 });
    const bodies: string[] = [];
    for (const next of [SIPP_OFFER, BARESIP_OFFER, VIDEO_OFFER, SIPP_OFFER]) {
      const sent = describeToLeg(leg, parseSdp(next));
      leg = sent.state;
      bodies.push(sent.sdp);
    }
    assert.deepEqual(bodies.map(originLine), [
      'o=- 2890844526 7 IN IP4 192.0.2.1',
      'o=- 2890844526 8 IN IP4 192.0.2.1',
      'o=- 2890844526 9 IN IP4 192.0.2.1',
      'o=- 2890844526 10 IN IP4 192.0.2.1',
    ]);
  });

  it('keeps the version when the description is unchanged (a session refresh)', () => {
    const first = describeToLeg(createLegSdpState({ address: CONTROLLER }), parseSdp(SIPP_OFFER));
    const again = describeToLeg(first.state, parseSdp(SIPP_OFFER));
    assert.equal(again.sdp, first.sdp);
    assert.equal(again.state.origin.sessionVersion, first.state.origin.sessionVersion);
  });

  it('replaces the forwarded party’s own origin, whatever its version', () => {
    const leg = createLegSdpState({ address: '2001:db8::1', username: 'c2d', sessionId: '5' });
    const sent = describeToLeg(leg, parseSdp(SIPP_OFFER));
    assert.equal(originLine(sent.sdp), 'o=c2d 5 1 IN IP6 2001:db8::1');
    // Media still flows between the parties: their c= is kept.
    assert.match(sent.sdp, /^c=IN IP4 127\.0\.0\.1$/m);
  });

  it('gives each leg its own origin and version sequence', () => {
    let legA = createLegSdpState({ address: CONTROLLER, sessionId: '1' });
    let legB = createLegSdpState({ address: CONTROLLER, sessionId: '2' });
    legA = describeToLeg(legA, parseSdp(SIPP_OFFER)).state;
    legA = describeToLeg(legA, parseSdp(BARESIP_OFFER)).state;
    legB = describeToLeg(legB, parseSdp(BARESIP_OFFER)).state;
    assert.deepEqual([legA.origin.sessionVersion, legB.origin.sessionVersion], [2, 1]);
  });

  it('refuses an origin that cannot be written', () => {
    assert.throws(() => createLegSdpState({ address: '' }), RangeError);
    assert.throws(() => createLegSdpState({ address: CONTROLLER, sessionId: 'abc' }), RangeError);
    assert.throws(() => createLegSdpState({ address: CONTROLLER, sessionVersion: -1 }), RangeError);
  });

  it('produces a state that survives JSON persistence', () => {
    const { state } = describeToLeg(createLegSdpState({ address: CONTROLLER }), parseSdp(VIDEO_OFFER));
    const restored = JSON.parse(JSON.stringify(state)) as LegSdpState;
    assert.deepEqual(describeToLeg(restored, parseSdp(SIPP_OFFER)), describeToLeg(state, parseSdp(SIPP_OFFER)));
  });
});

describe('m-line reconciliation (RFC 3264 §8.1, §8.2)', () => {
  it('pads a shorter description with port-0 m-lines of the same type, transport and a format', () => {
    let leg = createLegSdpState({ address: CONTROLLER });
    leg = noteDescriptionFromLeg(leg, parseSdp(VIDEO_OFFER.concat('m=image 6000 udptl t38\r\nc=IN IP4 198.51.100.7\r\n')));
    const sent = describeToLeg(leg, parseSdp(SIPP_OFFER));
    assert.deepEqual(mLines(sent.description), ['audio 6000 0', 'video 0 98', 'image 0 t38']);
    assert.equal(sent.description.media[2]?.protocol, 'udptl');
    assert.deepEqual(sent.mediaMap, [0]);
  });

  it('puts each stream back in the slot of its media type, and appends new types', () => {
    const slots = [
      { type: 'audio', protocol: 'RTP/AVP', format: '0', enabled: true },
      { type: 'video', protocol: 'RTP/AVP', format: '31', enabled: true },
    ];
    const reordered = parseSdp(
      sdp('v=0', 'o=- 1 1 IN IP4 192.0.2.9', 's=-', 'c=IN IP4 192.0.2.9', 't=0 0', 'm=video 5002 RTP/AVP 96', 'a=rtpmap:96 VP8/90000', 'm=application 5004 UDP/BFCP *', 'm=audio 5000 RTP/AVP 8'),
    );
    const { description, mediaMap } = reconcileMediaLines(reordered, slots);
    assert.deepEqual(mLines(description), ['audio 5000 8', 'video 5002 96', 'application 5004 *']);
    assert.deepEqual(mediaMap, [1, 2, 0]);
  });

  it('prefers a slot that carried a stream over a disabled one of the same type', () => {
    const slots = [
      { type: 'audio', protocol: 'RTP/AVP', format: '0', enabled: false },
      { type: 'audio', protocol: 'RTP/AVP', format: '0', enabled: true },
    ];
    const { description, mediaMap } = reconcileMediaLines(parseSdp(SIPP_OFFER), slots);
    assert.deepEqual(mLines(description), ['audio 0 0', 'audio 6000 0']);
    assert.deepEqual(mediaMap, [1]);
  });

  it('pads the offer without media lines when the leg already has m-lines', () => {
    const leg = noteDescriptionFromLeg(createLegSdpState({ address: CONTROLLER }), parseSdp(SIPP_OFFER));
    assert.deepEqual(mLines(describeToLeg(leg, createNoMediaOffer()).description), ['audio 0 0']);
  });

  it('does not forget m-lines when a leg wrongly sends fewer', () => {
    let leg = noteDescriptionFromLeg(createLegSdpState({ address: CONTROLLER }), parseSdp(VIDEO_OFFER));
    leg = noteDescriptionFromLeg(leg, parseSdp(SIPP_OFFER));
    assert.deepEqual(leg.mediaSlots.map((slot) => slot.type), ['audio', 'video']);
  });
});

describe('Flow III end to end (RFC 3725 §4.3)', () => {
  it('holds A, forwards B’s offer to A and A’s answer to B, each with a consistent origin and m-lines', () => {
    // 200 from A with offer A1 (audio + video); ACK to A with the held answer.
    const offerA1 = parseSdp(VIDEO_OFFER);
    let legA = noteDescriptionFromLeg(createLegSdpState({ address: CONTROLLER, sessionId: '100' }), offerA1);
    const heldToA = describeToLeg(legA, createHeldAnswer(offerA1).description);
    legA = heldToA.state;
    assert.equal(originLine(heldToA.sdp), 'o=- 100 1 IN IP4 192.0.2.1');
    assert.deepEqual(mLines(heldToA.description), ['audio 9 96', 'video 9 98']);

    // 200 from B with offer B (audio only); the engine checks that the legs can talk.
    const offerB = parseSdp(BARESIP_OFFER);
    assert.equal(hasCommonCodec(offerA1, offerB), true);
    let legB = noteDescriptionFromLeg(createLegSdpState({ address: CONTROLLER, sessionId: '200' }), offerB);

    // re-INVITE to A with B's offer: same origin, version + 1, A's video slot kept at port 0.
    const offerToA = describeToLeg(legA, offerB);
    legA = offerToA.state;
    assert.equal(originLine(offerToA.sdp), 'o=- 100 2 IN IP4 192.0.2.1');
    assert.deepEqual(mLines(offerToA.description), ['audio 10000 111 9 0 8 101', 'video 0 98']);
    assert.match(offerToA.sdp, /^c=IN IP4 192\.168\.1\.20$/m);

    // 200 from A with answer A2, in the order of the offer A received.
    const answerA2 = parseSdp(
      sdp('v=0', 'o=bob 2890844730 2890844732 IN IP4 198.51.100.7', 's=Talk', 'c=IN IP4 198.51.100.7', 't=0 0', 'm=audio 7078 RTP/AVP 111 101', 'a=rtpmap:111 opus/48000/2', 'a=rtpmap:101 telephone-event/8000', 'm=video 0 RTP/AVP 98'),
    );
    legA = noteDescriptionFromLeg(legA, answerA2);
    assert.equal(hasCommonCodec(offerToA.description, answerA2), true);

    // ACK to B with A2 brought back to B's m-lines: exactly one m-line, B's first description.
    const answerToB = describeToLeg(legB, answerInOfferOrder(answerA2, offerToA.mediaMap, offerB));
    legB = answerToB.state;
    assert.equal(originLine(answerToB.sdp), 'o=- 200 1 IN IP4 192.0.2.1');
    assert.deepEqual(mLines(answerToB.description), ['audio 7078 111 101']);

    // Later, A puts B on hold: A's offer goes to B, B's answer comes back to A.
    const holdFromA = holdDescription(answerA2);
    legA = noteDescriptionFromLeg(legA, holdFromA);
    const holdToB = describeToLeg(legB, holdFromA);
    assert.equal(originLine(holdToB.sdp), 'o=- 200 2 IN IP4 192.0.2.1');
    assert.deepEqual(mLines(holdToB.description), ['audio 7078 111 101', 'video 0 98']);
    const answerFromB = parseSdp(BARESIP_OFFER.replace('a=sendrecv', 'a=recvonly').concat('m=video 0 RTP/AVP 98\r\n'));
    const answerToA = describeToLeg(legA, answerInOfferOrder(answerFromB, holdToB.mediaMap, holdFromA));
    assert.equal(originLine(answerToA.sdp), 'o=- 100 3 IN IP4 192.0.2.1');
    assert.deepEqual(mLines(answerToA.description), ['audio 10000 111 9 0 8 101', 'video 0 98']);
  });

  it('rejects, in the answer to B, streams that A did not answer or that B had disabled', () => {
    const offerB = parseSdp(VIDEO_OFFER.concat('m=audio 0 RTP/AVP 0\r\n'));
    const answerFromA = parseSdp(SIPP_OFFER);
    const answerToB = answerInOfferOrder(answerFromA, [0, 1, 2], offerB);
    assert.deepEqual(mLines(answerToB), ['audio 6000 0', 'video 0 98', 'audio 0 0']);
  });
});
