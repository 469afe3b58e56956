// The parser and writer run from sdp-transform's grammar must give what sdp-transform itself
// gives, for every line its grammar knows and for lines it does not: fixtures from real
// parties, every example line of the grammar, and random lines built from its attribute names.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import sdpTransform from 'sdp-transform';
import type { SessionDescription } from 'sdp-transform';
import { parseDescription, requiredPrefix, splitLines, writeDescription } from '../../src/sdp/compiled-grammar.js';
import { ANSWER_WITH_REJECTED_VIDEO, BARESIP_OFFER, G729_IPV6_OFFER, SIPP_OFFER, VIDEO_OFFER } from './fixtures.js';

/** One example line for every rule of sdp-transform's grammar (from its own comments), and some odd ones. */
const EXAMPLE_LINES = [
  'v=0',
  'v=',
  'v=x',
  'o=- 20518 0 IN IP4 203.0.113.1',
  'o=alice 12345678901234567890 3 IN IP6 2001:db8::1',
  'o=broken',
  's=-',
  's=',
  'i=A Seminar',
  'u=http://www.example.com/seminars/sdp.pdf',
  'e=j.doe@example.com (Jane Doe)',
  'p=+1 617 555-6011',
  'z=2882844526 -1h 2898848070 0',
  'r=604800 3600 0 90000',
  't=0 0',
  't=3034423619 3042462419',
  'c=IN IP4 10.47.197.26',
  'c=IN IP6 ::1',
  'c=IN IP4 224.2.1.1/127/3',
  'b=AS:4000',
  'b=TIAS:64000',
  'b=X-YZ:128',
  'm=audio 49170 RTP/AVP 0 8 97',
  'm=video 0 RTP/AVP 31',
  'm=audio 49170/2 RTP/AVP 0',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'm=image 6000 udptl t38',
  'm=audio 5004 RTP/AVP',
  'a=rtpmap:110 opus/48000/2',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:96 telephone-event',
  'a=fmtp:108 profile-level-id=24;object=23;bitrate=64000',
  'a=fmtp:111 minptime=10; useinbandfec=1',
  'a=control:streamid=0',
  'a=rtcp:65179 IN IP4 193.84.77.194',
  'a=rtcp:9',
  'a=rtcp-fb:98 trr-int 100',
  'a=rtcp-fb:98 nack rpsi',
  'a=rtcp-fb:* ccm fir',
  'a=extmap:2 urn:ietf:params:rtp-hdrext:toffset',
  'a=extmap:1/recvonly URI-gps-string',
  'a=extmap:3 urn:ietf:params:rtp-hdrext:encrypt urn:ietf:params:rtp-hdrext:smpte-tc 25@600/24',
  'a=extmap-allow-mixed',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32',
  'a=setup:actpass',
  'a=connection:new',
  'a=connection:other',
  'a=mid:1',
  'a=msid:0c8b064d-d807-43b4-b434-f92a889d8587 98178685-d409-46e0-8e16-7ef0db0db64a',
  'a=ptime:20',
  'a=maxptime:60',
  'a=sendrecv',
  'a=recvonly',
  'a=sendonly',
  'a=inactive',
  'a=sendrecvx',
  'a=ice-lite',
  'a=ice-ufrag:F7gI',
  'a=ice-pwd:x9cml/YzichV2+XlhiMu8g',
  'a=fingerprint:SHA-1 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33',
  'a=candidate:0 1 UDP 2113667327 203.0.113.1 54400 typ host',
  'a=candidate:3289912957 2 tcp 1845501695 193.84.77.194 60017 typ srflx raddr 192.168.34.75 rport 60017 tcptype passive generation 0 network-id 3 network-cost 10',
  'a=end-of-candidates',
  'a=remote-candidates:1 203.0.113.1 54400 2 203.0.113.1 54401',
  'a=ice-options:google-ice',
  'a=ssrc:2566107569 cname:t9YU8M1UxTF8Y1A1',
  'a=ssrc:2566107569',
  'a=ssrc-group:FEC 1 2',
  'a=msid-semantic: WMS Jvlam5X3SX1OP6pn20zWogvaKJz5Hjf9OnlV',
  'a=msid-semantic:WMS *',
  'a=group:BUNDLE audio video',
  'a=rtcp-mux',
  'a=rtcp-rsize',
  'a=sctpmap:5000 webrtc-datachannel 1024',
  'a=x-google-flag:conference',
  'a=rid:1 send max-width=1280;max-height=720;max-fps=30;depend=0',
  'a=imageattr:97 send [x=800,y=640,sar=1.1,q=0.6] [x=480,y=320] recv [x=330,y=250]',
  'a=imageattr:* send [x=800,y=640] recv *',
  'a=simulcast:send 1,2,3;~4,~5 recv 6;~7,~8',
  'a=simulcast: recv pt=97;98 send pt=97',
  'a=framerate:29.97',
  'a=source-filter: incl IN IP4 239.5.2.31 10.1.15.5',
  'a=bundle-only',
  'a=label:1',
  'a=sctp-port:5000',
  'a=max-message-size:262144',
  'a=ts-refclk:ptp=IEEE1588-2008:39-A7-94-FF-FE-07-CB-D0:37',
  'a=mediaclk:direct=963214424',
  'a=keywds:keywords',
  'a=content:main',
  'a=floorctrl:c-s',
  'a=confid:1',
  'a=userid:1',
  'a=floorid:1 mstrm:10',
  'a=tool:baresip 1.0.0',
  'a=T38FaxVersion:0',
  'a=ptime:Infinity',
  'a=ptime:NaN',
  'a=label:007',
  'a=label:-0',
  'a=label:-12',
  'a=label:1e21',
  'a=label:123456789012345678',
  'a=label:0.5',
  'a=label:-Infinity',
  'a=label:1e-7',
  'a=label:-1.5',
  'a=label:1.2.3',
  'a=label:0',
  'a=label:00',
  'a=label:999999999999999',
  'a=label:9999999999999999',
  'a=label:12ab',
  'a=',
  'a=rtpmap:',
  'a=fmtp:',
  'k=clear:secret',
  'x=unknown',
  '',
  ' a=leading space',
];

function bodyOf(lines: readonly string[]): string {
  return `${lines.join('\r\n')}\r\n`;
}

function assertSameParse(text: string): void {
  assert.deepStrictEqual(parseDescription(text), sdpTransform.parse(text), text);
}

function assertSameWrite(description: SessionDescription): void {
  const before = structuredClone(description);
  const ours = writeDescription(description);
  assert.deepStrictEqual(description, before, 'writeDescription() left its argument alone');
  // sdp-transform's writer fills in defaults on what it is given: give it a copy.
  assert.equal(ours, sdpTransform.write(structuredClone(description)));
}

describe('sdp-transform grammar, compiled', () => {
  it('parses and writes the fixtures as sdp-transform does', () => {
    for (const body of [SIPP_OFFER, BARESIP_OFFER, VIDEO_OFFER, ANSWER_WITH_REJECTED_VIDEO, G729_IPV6_OFFER]) {
      assertSameParse(body);
      assertSameParse(body.replace(/\r\n/g, '\n'));
      assertSameWrite(sdpTransform.parse(body));
    }
  });

  it('parses every example line of the grammar, at session and at media level, as sdp-transform does', () => {
    for (const line of EXAMPLE_LINES) {
      assertSameParse(bodyOf(['v=0', line, 'm=audio 9 RTP/AVP 0', line]));
      assertSameWrite(sdpTransform.parse(bodyOf(['v=0', 'o=- 1 1 IN IP4 0.0.0.0', line, 'm=audio 9 RTP/AVP 0', line])));
    }
    assertSameParse(bodyOf(EXAMPLE_LINES));
    assertSameWrite(sdpTransform.parse(bodyOf(EXAMPLE_LINES)));
  });

  it('writes the defaults sdp-transform fills in, without storing them', () => {
    const bare = { origin: { username: '-', sessionId: 1, sessionVersion: 2, netType: 'IN', ipVer: 4, address: '0.0.0.0' }, media: [{ type: 'audio', port: 9, protocol: 'RTP/AVP' }] };
    assertSameWrite(bare as unknown as SessionDescription);
    assertSameWrite({ ...bare, version: null, name: null } as unknown as SessionDescription);
  });

  it('cuts lines where sdp-transform cuts them', () => {
    for (const text of ['', 'a', 'a\r\nb', 'a\rb', 'a\nb', 'a\r\r\nb', 'a\n\rb', 'a\r\n', '\r\n\r\n', 'a\r']) {
      assert.deepStrictEqual(splitLines(text), text.split(/\r\n|\r|\n/), JSON.stringify(text));
    }
  });

  it('finds the literal prefix an expression requires, and none where it cannot tell', () => {
    assert.equal(requiredPrefix(/^rtpmap:(\d*) ([\w\-.]*)/), 'rtpmap:');
    assert.equal(requiredPrefix(/^(rtcp-mux)/), 'rtcp-mux');
    assert.equal(requiredPrefix(/^(sendrecv|recvonly)/), '');
    assert.equal(requiredPrefix(/^source-filter: *(excl|incl)/), 'source-filter:');
    assert.equal(requiredPrefix(/^msid-semantic:\s?(\w*)/), 'msid-semantic:');
    assert.equal(requiredPrefix(/^IN IP(\d) (\S*)/), 'IN IP');
    assert.equal(requiredPrefix(/^ab?c/), 'a');
    assert.equal(requiredPrefix(/^(ab)?c/), '');
    assert.equal(requiredPrefix(/^(ab)c|d/), '');
    assert.equal(requiredPrefix(/^a\.b/), 'a.b');
    assert.equal(requiredPrefix(/(.*)/), '');
    assert.equal(requiredPrefix(/^abc/i), '');
  });

  it('parses random lines built from the grammar words as sdp-transform does', () => {
    const word = fc.constantFrom(
      'rtpmap', 'fmtp', 'rtcp', 'rtcp-fb', 'rtcp-mux', 'rtcp-rsize', 'extmap', 'extmap-allow-mixed', 'ssrc', 'ssrc-group',
      'msid', 'msid-semantic', 'mid', 'sendrecv', 'sendonly', 'recvonly', 'inactive', 'ice-lite', 'ice-ufrag', 'candidate',
      'end-of-candidates', 'simulcast', 'imageattr', 'rid', 'ptime', 'maxptime', 'group', 'bundle-only', 'label', 'crypto',
      'setup', 'connection', 'framerate', 'source-filter', 'mediaclk', 'ts-refclk', 'floorid', 'content', 'tool', 'IN', 'IP4',
    );
    const piece = fc.oneof(word, fc.constantFrom(':', ' ', '/', '*', '.', ';', '=', '-', '~', ',', '[', ']'), fc.nat({ max: 200_000 }).map(String), fc.string({ maxLength: 4 }));
    const content = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(''));
    const line = fc.tuple(fc.constantFrom('a', 'a', 'a', 'b', 'c', 'm', 'o', 't', 'v', 's', 'i', 'k'), content).map(([type, text]) => `${type}=${text}`);
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.constantFrom('\r\n', '\n', '\r'), (lines, end) => {
        const text = lines.map((l) => l + end).join('');
        assertSameParse(text);
        const parsed = sdpTransform.parse(text);
        let expected: string | undefined;
        try {
          expected = sdpTransform.write(structuredClone(parsed));
        } catch {
          expected = undefined;
        }
        if (expected !== undefined) assert.equal(writeDescription(parsed), expected);
      }),
      { numRuns: 2000 },
    );
  });
});
