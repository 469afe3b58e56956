import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commonCodecs, hasCommonCodec, intersectFormats, mediaCodecs, parseSdp, type MediaDescription } from '../../src/sdp/index.js';
import { ANSWER_WITH_REJECTED_VIDEO, BARESIP_OFFER, G729_IPV6_OFFER, SIPP_OFFER, VIDEO_OFFER, sdp } from './fixtures.js';

function audioLine(formats: string, ...attributes: string[]): MediaDescription {
  const description = parseSdp(sdp('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', `m=audio 4000 RTP/AVP ${formats}`, ...attributes));
  return description.media[0]!;
}

const names = (matches: ReturnType<typeof commonCodecs>) => matches.map(({ a, b }) => `${a.name}/${a.clockRate} ${a.payloadType}↔${b.payloadType}`);

describe('codecs', () => {
  it('names static payload types from RFC 3551 and dynamic ones from a=rtpmap, in preference order', () => {
    const codecs = mediaCodecs(parseSdp(BARESIP_OFFER).media[0]!);
    assert.deepEqual(
      codecs.map((codec) => [codec.payloadType, codec.name, codec.clockRate, codec.channels, codec.addOn]),
      [
        [111, 'opus', 48000, 2, false],
        [9, 'G722', 8000, 1, false],
        [0, 'PCMU', 8000, 1, false],
        [8, 'PCMA', 8000, 1, false],
        [101, 'telephone-event', 8000, 1, true],
      ],
    );
    assert.equal(codecs[0]?.parameters, 'stereo=1;sprop-stereo=1');
  });

  it('names a static payload type that has no a=rtpmap', () => {
    assert.deepEqual(mediaCodecs(audioLine('18 3')).map((codec) => codec.name), ['G729', 'GSM']);
  });

  it('matches dynamic payload types by name and clock rate whatever their numbers', () => {
    const a = audioLine('111 101', 'a=rtpmap:111 opus/48000/2', 'a=rtpmap:101 telephone-event/8000');
    const b = audioLine('96 100', 'a=rtpmap:96 opus/48000/2', 'a=rtpmap:100 telephone-event/8000');
    assert.deepEqual(names(commonCodecs(a, b)), ['opus/48000 111↔96']);
    assert.deepEqual(intersectFormats(a, b).addOns.map(({ a: x, b: y }) => [x.payloadType, y.payloadType]), [[101, 100]]);
  });

  it('does not match the same name at another clock rate or channel count', () => {
    const a = audioLine('96 97', 'a=rtpmap:96 speex/16000', 'a=rtpmap:97 L16/8000/2');
    const b = audioLine('98 99', 'a=rtpmap:98 speex/8000', 'a=rtpmap:99 L16/8000');
    assert.deepEqual(commonCodecs(a, b), []);
  });

  it('matches encoding names case-insensitively', () => {
    const offer = parseSdp(VIDEO_OFFER).media[0]!; // OPUS/48000/2
    const other = audioLine('120', 'a=rtpmap:120 opus/48000/2');
    assert.deepEqual(names(commonCodecs(offer, other)), ['OPUS/48000 96↔120']);
  });

  it('matches static payload types by number, with or without a=rtpmap', () => {
    const sipp = parseSdp(SIPP_OFFER).media[0]!;
    assert.deepEqual(names(commonCodecs(sipp, audioLine('8 0'))), ['PCMU/8000 0↔0']);
    assert.deepEqual(names(commonCodecs(parseSdp(BARESIP_OFFER).media[0]!, parseSdp(ANSWER_WITH_REJECTED_VIDEO).media[0]!)), ['PCMA/8000 8↔8']);
  });

  it('matches a static type with a dynamic one of the same encoding', () => {
    assert.deepEqual(names(commonCodecs(audioLine('0'), audioLine('96', 'a=rtpmap:96 pcmu/8000'))), ['PCMU/8000 0↔96']);
  });

  it('finds no common codec when only telephone-event is shared', () => {
    const g729 = parseSdp(G729_IPV6_OFFER);
    const a = g729.media[0]!;
    const b = parseSdp(BARESIP_OFFER).media[0]!;
    assert.deepEqual(commonCodecs(a, b), []);
    assert.equal(intersectFormats(a, b).addOns.length, 1);
    assert.equal(hasCommonCodec(g729, parseSdp(BARESIP_OFFER)), false);
  });

  it('treats comfort noise as an add-on, not a codec', () => {
    assert.deepEqual(commonCodecs(audioLine('0 13'), audioLine('8 13')), []);
  });

  it('decides whether two legs can carry audio, across m-lines of the same type', () => {
    const sipp = parseSdp(SIPP_OFFER);
    const baresip = parseSdp(BARESIP_OFFER);
    const video = parseSdp(VIDEO_OFFER);
    assert.equal(hasCommonCodec(sipp, baresip), true);
    assert.equal(hasCommonCodec(baresip, parseSdp(ANSWER_WITH_REJECTED_VIDEO)), true);
    // VIDEO_OFFER's audio is opus and PCMA: nothing in common with SIPp's PCMU.
    assert.equal(hasCommonCodec(sipp, video), false);
    assert.equal(hasCommonCodec(video, baresip), true);
    // A video stream rejected with port 0 does not count.
    assert.equal(hasCommonCodec(video, parseSdp(ANSWER_WITH_REJECTED_VIDEO), 'video'), false);
  });

  it('agrees with commonCodecs() for every pair of enabled streams of the fixtures, whatever the media type', () => {
    const all = [SIPP_OFFER, BARESIP_OFFER, VIDEO_OFFER, ANSWER_WITH_REJECTED_VIDEO, G729_IPV6_OFFER].map((body) => parseSdp(body));
    for (const a of all) {
      for (const b of all) {
        for (const type of ['audio', 'video', 'image']) {
          const enabled = (d: typeof a) => d.media.filter((m) => m.type === type && m.port !== 0);
          const expected = enabled(a).some((ma) => enabled(b).some((mb) => commonCodecs(ma, mb).length > 0));
          assert.equal(hasCommonCodec(a, b, type), expected);
        }
      }
    }
  });

  it('ignores disabled streams', () => {
    const disabled = parseSdp(SIPP_OFFER.replace('m=audio 6000', 'm=audio 0'));
    assert.equal(hasCommonCodec(disabled, parseSdp(BARESIP_OFFER)), false);
  });

  it('skips formats that are not RTP payload types', () => {
    const fax = parseSdp(sdp('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=image 4000 udptl t38'));
    assert.deepEqual(mediaCodecs(fax.media[0]!), []);
  });
});
