// The demo phone's offers and answers (RFC 3264 §6, §8): m-lines answered in order, the first
// decodable audio stream taken and the rest refused with port 0, directions mirrored, an offer
// without m-lines answered without any, versions bumped only for a changed description.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PhoneMedia } from '../../src/demo/index.js';
import { parseSdp } from '../../src/sdp/index.js';

function offer(lines: string[], version = 1): string {
  return ['v=0', `o=peer 42 ${version} IN IP4 192.0.2.7`, 's=-', 'c=IN IP4 192.0.2.7', 't=0 0', ...lines, ''].join('\r\n');
}

const AUDIO = ['m=audio 30000 RTP/AVP 18 8 0 101', 'a=rtpmap:18 G729/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-16'];

describe('PhoneMedia', () => {
  it('answers the first G.711 codec in the offerer’s order, with telephone-event, on its own port and address', () => {
    const answer = parseSdp(new PhoneMedia('bob', '127.0.0.1', 41000).answer(offer(AUDIO)));
    assert.equal(answer.media.length, 1);
    const [audio] = answer.media;
    assert.equal(audio!.port, 41000);
    assert.equal(audio!.payloads, '8 101');
    assert.deepEqual(audio!.fmtp, [{ payload: 101, config: '0-16' }]);
    assert.equal(audio!.direction, 'sendrecv');
    assert.equal(answer.connection?.ip, '127.0.0.1');
    assert.equal(answer.origin.username, 'bob');
  });

  it('refuses streams it cannot take with port 0, in the offer’s order, and takes one audio stream only', () => {
    const text = offer(['m=video 30002 RTP/AVP 96', 'a=rtpmap:96 H264/90000', ...AUDIO, 'm=audio 30004 RTP/AVP 0']);
    const answer = parseSdp(new PhoneMedia('bob', '127.0.0.1', 41000).answer(text));
    assert.deepEqual(answer.media.map((m) => [m.type, m.port]), [['video', 0], ['audio', 41000], ['audio', 0]]);
    assert.equal(answer.media[0]!.payloads, '96');
  });

  it('answers a hold (sendonly) recvonly and an inactive stream inactive, and reports where media goes', () => {
    const media = new PhoneMedia('alice', '127.0.0.1', 41000);
    assert.equal(parseSdp(media.answer(offer([...AUDIO, 'a=sendonly']))).media[0]!.direction, 'recvonly');
    assert.deepEqual(media.state, { direction: 'recvonly', codec: 'PCMA/8000', remote: { address: '192.0.2.7', port: 30000 } });
    assert.equal(parseSdp(media.answer(offer([...AUDIO, 'a=inactive'], 2))).media[0]!.direction, 'inactive');
  });

  it('answers an offer without m-lines (RFC 3725 flow IV) without any, and one it cannot decode with port 0', () => {
    const media = new PhoneMedia('alice', '127.0.0.1', 41000);
    assert.equal(parseSdp(media.answer(offer([]))).media.length, 0);
    assert.equal(media.state.direction, undefined);
    const g729 = parseSdp(media.answer(offer(['m=audio 30000 RTP/AVP 18', 'a=rtpmap:18 G729/8000'], 2)));
    assert.equal(g729.media[0]!.port, 0);
  });

  it('bumps its o= version for each changed description and keeps it for an unchanged re-offer (RFC 3264 §8)', () => {
    const media = new PhoneMedia('alice', '127.0.0.1', 41000);
    const first = parseSdp(media.offer());
    assert.equal(first.origin.sessionVersion, 1);
    assert.deepEqual(first.media[0]!.rtp.map((r) => r.codec), ['PCMU', 'PCMA', 'telephone-event']);
    assert.equal(parseSdp(media.offer()).origin.sessionVersion, 1, 'the same offer again');
    assert.equal(parseSdp(media.answer(offer([...AUDIO, 'a=sendonly']))).origin.sessionVersion, 2);
    assert.equal(parseSdp(media.answer(offer([...AUDIO, 'a=sendonly'], 2))).origin.sessionVersion, 2, 'the same answer again');
    assert.equal(parseSdp(media.answer(offer(AUDIO, 3))).origin.sessionVersion, 3);
    assert.equal(parseSdp(media.offer()).origin.sessionId, first.origin.sessionId);
  });

  it('refuses a body that is not SDP with SdpParseError', () => {
    assert.throws(() => new PhoneMedia('bob', '127.0.0.1', 41000).answer('hello'), { name: 'SdpParseError' });
  });
});
