// Property: whatever descriptions go to and come from a leg, the controller's descriptions
// towards it keep one origin, never decrease the version nor increase it by more than one,
// and never have fewer m-lines than the leg has seen (RFC 3264 §8).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createLegSdpState, describeToLeg, noteDescriptionFromLeg, parseSdp, type LegSdpState } from '../../src/sdp/index.js';

const mediaLine = fc.oneof(
  fc.record({
    type: fc.constantFrom('audio', 'video'),
    port: fc.oneof(fc.constant(0), fc.integer({ min: 1024, max: 65_534 })),
    formats: fc.uniqueArray(fc.constantFrom('0', '8', '18', '96', '101', '111'), { minLength: 1, maxLength: 4 }),
    direction: fc.constantFrom('', 'a=sendrecv', 'a=sendonly', 'a=recvonly', 'a=inactive'),
  }),
  fc.record({
    type: fc.constant('image'),
    port: fc.oneof(fc.constant(0), fc.integer({ min: 1024, max: 65_534 })),
    formats: fc.constant(['t38']),
    direction: fc.constant(''),
  }),
);

const body = fc
  .record({
    username: fc.constantFrom('-', 'alice', 'bob'),
    version: fc.integer({ min: 0, max: 2 ** 40 }),
    address: fc.ipV4(),
    media: fc.array(mediaLine, { maxLength: 5 }),
  })
  .map(({ username, version, address, media }) => {
    const lines = ['v=0', `o=${username} 1 ${version} IN IP4 ${address}`, 's=-', `c=IN IP4 ${address}`, 't=0 0'];
    for (const line of media) {
      lines.push(`m=${line.type} ${line.port} ${line.type === 'image' ? 'udptl' : 'RTP/AVP'} ${line.formats.join(' ')}`);
      if (line.direction !== '') lines.push(line.direction);
    }
    return `${lines.join('\r\n')}\r\n`;
  });

const step = fc.record({ to: fc.boolean(), body });

describe('describeToLeg (property)', () => {
  it('never decreases the version, increments it by at most one, and never drops m-lines', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.array(step, { minLength: 1, maxLength: 12 }), (initialVersion, steps) => {
        let leg: LegSdpState = createLegSdpState({ address: '192.0.2.1', sessionId: '77', sessionVersion: initialVersion });
        let lastSent: string | null = null;
        let lastVersion = initialVersion;
        for (const { to, body: text } of steps) {
          const description = parseSdp(text);
          if (!to) {
            leg = noteDescriptionFromLeg(leg, description);
            assert.ok(leg.mediaSlots.length >= description.media.length);
            continue;
          }
          const seen = leg.mediaSlots.length;
          const sent = describeToLeg(leg, description);
          const reread = parseSdp(sent.sdp);
          const version = Number(reread.origin.sessionVersion);
          // One origin towards the leg: only the version may change.
          assert.deepEqual({ ...reread.origin, sessionVersion: 0 }, { username: '-', sessionId: '77', sessionVersion: 0, netType: 'IN', ipVer: 4, address: '192.0.2.1' });
          if (lastSent === null) assert.equal(version, initialVersion);
          else if (sent.sdp === lastSent) assert.equal(version, lastVersion);
          else assert.equal(version, lastVersion + 1);
          assert.ok(reread.media.length >= seen, `sent ${reread.media.length} m-lines to a leg that had seen ${seen}`);
          assert.ok(reread.media.length >= description.media.length);
          // Every stream of the input is where mediaMap says, unchanged.
          description.media.forEach((media, index) => {
            const placed = reread.media[sent.mediaMap[index] ?? -1];
            assert.equal(placed?.type, media.type);
            assert.equal(placed?.port, media.port);
          });
          assert.equal(sent.state.origin.sessionVersion, version);
          lastSent = sent.sdp;
          lastVersion = version;
          leg = sent.state;
        }
      }),
      { numRuns: 300 },
    );
  });
});
