import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  answerDirection,
  holdDescription,
  invertDirection,
  isBlackHoleAddress,
  isHeld,
  mediaDirection,
  parseSdp,
  resumeDescription,
  rtpEndpoints,
  type Direction,
} from '../../src/sdp/index.js';
import { ANSWER_WITH_REJECTED_VIDEO, BARESIP_OFFER, G729_IPV6_OFFER, SIPP_OFFER, VIDEO_OFFER } from './fixtures.js';

const directions = (description: ReturnType<typeof parseSdp>) => description.media.map((_, index) => mediaDirection(description, index));

describe('directions', () => {
  it('defaults to sendrecv and lets a media-level attribute override the session-level one', () => {
    assert.deepEqual(directions(parseSdp(SIPP_OFFER)), ['sendrecv']);
    const mixed = parseSdp(VIDEO_OFFER.replace('t=0 0\r\n', 't=0 0\r\na=recvonly\r\n'));
    assert.deepEqual(directions(mixed), ['recvonly', 'sendrecv']);
  });

  it('inverts a direction for the other side', () => {
    const pairs: [Direction, Direction][] = [['sendonly', 'recvonly'], ['recvonly', 'sendonly'], ['sendrecv', 'sendrecv'], ['inactive', 'inactive']];
    for (const [direction, inverted] of pairs) assert.equal(invertDirection(direction), inverted);
  });

  it('narrows an answer direction to what the offer allows (RFC 3264 §6.1)', () => {
    assert.equal(answerDirection('sendonly'), 'recvonly');
    assert.equal(answerDirection('recvonly'), 'sendonly');
    assert.equal(answerDirection('inactive'), 'inactive');
    assert.equal(answerDirection('sendrecv'), 'sendrecv');
    assert.equal(answerDirection('sendrecv', 'sendonly'), 'sendonly');
    assert.equal(answerDirection('sendonly', 'sendonly'), 'inactive');
    assert.equal(answerDirection('recvonly', 'recvonly'), 'inactive');
    for (const offered of ['sendrecv', 'sendonly', 'recvonly', 'inactive'] as const) assert.equal(answerDirection(offered, 'inactive'), 'inactive');
  });
});

describe('hold and resume (RFC 3264 §8.4)', () => {
  it('holds sendrecv streams as sendonly and recvonly ones as inactive, leaving disabled ones alone', () => {
    const offer = parseSdp(VIDEO_OFFER.replace('a=rtcp:7079', 'a=rtcp:7079\r\na=recvonly'));
    const held = holdDescription(offer);
    assert.deepEqual(directions(held), ['inactive', 'sendonly']);
    assert.equal(isHeld(held), true);
    const answer = holdDescription(parseSdp(ANSWER_WITH_REJECTED_VIDEO));
    assert.equal(answer.media[1]?.direction, undefined);
    assert.equal(answer.media[1]?.port, 0);
  });

  it('holds every stream inactive on request, and does not touch its input', () => {
    const offer = parseSdp(BARESIP_OFFER);
    assert.deepEqual(directions(holdDescription(offer, 'inactive')), ['inactive']);
    assert.deepEqual(directions(offer), ['sendrecv']);
  });

  it('moves a session-level direction onto the m-lines', () => {
    const offer = parseSdp(SIPP_OFFER.replace('t=0 0\r\n', 't=0 0\r\na=recvonly\r\n'));
    const held = holdDescription(offer);
    assert.equal(held.direction, undefined);
    assert.deepEqual(directions(held), ['inactive']);
  });

  it('resumes held streams as sendrecv', () => {
    const resumed = resumeDescription(holdDescription(parseSdp(VIDEO_OFFER)));
    assert.deepEqual(directions(resumed), ['sendrecv', 'sendrecv']);
    assert.equal(isHeld(resumed), false);
  });

  it('recognises the RFC 2543 black-hole hold', () => {
    assert.equal(isHeld(parseSdp(SIPP_OFFER.replace('c=IN IP4 127.0.0.1', 'c=IN IP4 0.0.0.0'))), true);
    assert.equal(isBlackHoleAddress('::'), true);
    assert.equal(isBlackHoleAddress('0:0:0:0:0:0:0:0'), true);
    assert.equal(isBlackHoleAddress('10.0.0.0'), false);
  });
});

describe('rtpEndpoints', () => {
  it('reads each stream’s address, port and RTCP port', () => {
    const endpoints = rtpEndpoints(parseSdp(VIDEO_OFFER));
    assert.deepEqual(
      endpoints.map(({ type, address, port, rtcpPort, ipVersion, enabled }) => ({ type, address, port, rtcpPort, ipVersion, enabled })),
      [
        { type: 'audio', address: '198.51.100.7', port: 7078, rtcpPort: 7079, ipVersion: 4, enabled: true },
        { type: 'video', address: '198.51.100.8', port: 9078, rtcpPort: 9079, ipVersion: 4, enabled: true },
      ],
    );
  });

  it('takes the session-level address, rtcp-mux, IPv6 and disabled streams into account', () => {
    assert.equal(rtpEndpoints(parseSdp(BARESIP_OFFER))[0]?.rtcpPort, 10000);
    const [v6] = rtpEndpoints(parseSdp(G729_IPV6_OFFER));
    assert.equal(v6?.address, '2001:db8::1');
    assert.equal(v6?.ipVersion, 6);
    const [, rejected] = rtpEndpoints(parseSdp(ANSWER_WITH_REJECTED_VIDEO));
    assert.equal(rejected?.enabled, false);
    assert.equal(rejected?.rtcpPort, null);
  });

  it('strips a multicast TTL from the address', () => {
    assert.equal(rtpEndpoints(parseSdp(SIPP_OFFER.replace('c=IN IP4 127.0.0.1', 'c=IN IP4 233.252.0.1/127')))[0]?.address, '233.252.0.1');
  });
});
