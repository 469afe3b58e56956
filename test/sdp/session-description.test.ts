import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  SdpParseError,
  hasNoMediaLines,
  isSameDescriptionVersion,
  mediaFormats,
  parseSdp,
  writeSdp,
  type SdpParseErrorCode,
} from '../../src/sdp/index.js';
import { ANSWER_WITH_REJECTED_VIDEO, BARESIP_OFFER, SIPP_OFFER, VIDEO_OFFER, sdp } from './fixtures.js';

function assertSdpError(body: string, code: SdpParseErrorCode): SdpParseError {
  let caught: unknown;
  try {
    parseSdp(body);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof SdpParseError, `expected SdpParseError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

describe('parseSdp and writeSdp', () => {
  it('reads a SIPp offer: origin, connection, one PCMU stream', () => {
    const description = parseSdp(SIPP_OFFER);
    assert.equal(description.origin.username, 'user1');
    assert.equal(description.origin.sessionId, '53655765');
    assert.equal(description.origin.sessionVersion, 2353687637);
    assert.deepEqual(description.connection, { version: 4, ip: '127.0.0.1' });
    assert.equal(description.media.length, 1);
    assert.equal(description.media[0]?.port, 6000);
    assert.deepEqual(mediaFormats(description.media[0]!), ['0']);
  });

  it('accepts a body as bytes, and LF-only line ends', () => {
    const fromBytes = parseSdp(Buffer.from(SIPP_OFFER));
    const fromLf = parseSdp(SIPP_OFFER.replace(/\r\n/g, '\n'));
    assert.deepEqual(fromBytes, fromLf);
  });

  it('keeps a session id wider than a double exactly', () => {
    const description = parseSdp(SIPP_OFFER.replace('53655765', '12345678901234567890'));
    assert.equal(description.origin.sessionId, '12345678901234567890');
    assert.match(writeSdp(description), /^o=user1 12345678901234567890 /m);
  });

  it('writes back what it read, attributes it does not know included', () => {
    const written = writeSdp(parseSdp(BARESIP_OFFER));
    for (const line of ['a=tool:baresip 1.0.0', 'a=rtpmap:111 opus/48000/2', 'a=fmtp:101 0-15', 'a=rtcp-mux', 'a=label:1', 'b=AS:512']) {
      assert.ok(written.includes(`${line}\r\n`), `${line} missing from\n${written}`);
    }
    assert.deepEqual(parseSdp(written), parseSdp(BARESIP_OFFER));
  });

  it('does not modify the description it writes', () => {
    const description = parseSdp(VIDEO_OFFER);
    const before = structuredClone(description);
    writeSdp(description);
    assert.deepEqual(description, before);
  });

  it('accepts a rejected stream without a c= line of its own', () => {
    const description = parseSdp(ANSWER_WITH_REJECTED_VIDEO.replace('c=IN IP4 203.0.113.9\r\n', '').replace('m=audio 5004 RTP/AVP 8 101\r\n', 'm=audio 5004 RTP/AVP 8 101\r\nc=IN IP4 203.0.113.9\r\n'));
    assert.equal(description.media[1]?.port, 0);
    assert.equal(description.media[1]?.connection, undefined);
  });

  it('recognises a description without media lines', () => {
    assert.equal(hasNoMediaLines(parseSdp(sdp('v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0'))), true);
    assert.equal(hasNoMediaLines(parseSdp(SIPP_OFFER)), false);
  });

  it('tells an unchanged description (same origin and version) from a new one', () => {
    const first = parseSdp(SIPP_OFFER);
    assert.equal(isSameDescriptionVersion(first, parseSdp(SIPP_OFFER)), true);
    assert.equal(isSameDescriptionVersion(first, parseSdp(SIPP_OFFER.replace('2353687637', '2353687638'))), false);
  });

  describe('refuses bodies that are not valid SDP', () => {
    const cases: [string, string, SdpParseErrorCode][] = [
      ['an empty body', '\r\n\r\n', 'EMPTY'],
      ['a body that is not SDP at all', '<xml/>\r\n', 'BAD_LINE'],
      ['a line without "="', SIPP_OFFER.replace('s=-', 's -'), 'BAD_LINE'],
      ['no v= line', SIPP_OFFER.replace('v=0\r\n', ''), 'MISSING_VERSION'],
      ['v= not first', SIPP_OFFER.replace('v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1', 'o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\nv=0'), 'MISSING_VERSION'],
      ['an unknown version', SIPP_OFFER.replace('v=0', 'v=1'), 'BAD_VERSION'],
      ['no o= line', SIPP_OFFER.replace(/o=.*\r\n/, ''), 'MISSING_ORIGIN'],
      ['a malformed o= line', SIPP_OFFER.replace(/o=.*\r\n/, 'o=user1 abc 1 IN IP4 127.0.0.1\r\n'), 'BAD_ORIGIN'],
      ['an o= line missing fields', SIPP_OFFER.replace(/o=.*\r\n/, 'o=user1 1 1\r\n'), 'BAD_ORIGIN'],
      ['no s= line', SIPP_OFFER.replace('s=-\r\n', ''), 'MISSING_SESSION_NAME'],
      ['no t= line', SIPP_OFFER.replace('t=0 0\r\n', ''), 'MISSING_TIMING'],
      ['a malformed t= line', SIPP_OFFER.replace('t=0 0', 't=now'), 'BAD_TIMING'],
      ['no c= for an active stream', SIPP_OFFER.replace('c=IN IP4 127.0.0.1\r\n', ''), 'MISSING_CONNECTION'],
      ['a malformed c= line', SIPP_OFFER.replace('c=IN IP4 127.0.0.1', 'c=IN IP4'), 'BAD_CONNECTION'],
      ['a c= of another network type', SIPP_OFFER.replace('c=IN IP4 127.0.0.1', 'c=ATM NSAP 47.0091.8100'), 'BAD_CONNECTION'],
      ['an m= line with a port count', SIPP_OFFER.replace('m=audio 6000 RTP/AVP 0', 'm=audio 6000/2 RTP/AVP 0'), 'BAD_MEDIA_LINE'],
      ['an m= line without formats', SIPP_OFFER.replace('m=audio 6000 RTP/AVP 0', 'm=audio 6000 RTP/AVP'), 'BAD_MEDIA_LINE'],
      ['an m= line with a port out of range', SIPP_OFFER.replace('m=audio 6000', 'm=audio 70000'), 'BAD_MEDIA_LINE'],
    ];
    for (const [what, body, code] of cases) {
      it(`${what}: ${code}`, () => {
        assertSdpError(body, code);
      });
    }

    it('names the line and the m-line at fault', () => {
      const error = assertSdpError(VIDEO_OFFER.replace('c=IN IP4 198.51.100.8', 'c=IN IP4'), 'BAD_CONNECTION');
      assert.equal(error.line, 11);
      assert.equal(error.mediaIndex, 1);
      assert.equal(assertSdpError(VIDEO_OFFER.replace('c=IN IP4 198.51.100.8\r\n', ''), 'MISSING_CONNECTION').mediaIndex, 1);
    });

    it('refuses a body over the size limit before parsing it', () => {
      assert.throws(() => parseSdp(SIPP_OFFER, { maxLength: 50 }), (error: unknown) => error instanceof SdpParseError && error.code === 'TOO_LARGE');
    });
  });
});

describe('parseSdp normalisation', () => {
  it('gives the format list as a string even when it is a single number', () => {
    const [media] = parseSdp(SIPP_OFFER).media;
    assert.equal(media?.payloads, '0');
    assert.equal(typeof media?.port, 'number');
  });
});
