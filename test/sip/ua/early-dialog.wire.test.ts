/**
 * Our UA core in early dialogs on the wire against SIPp, over UDP and TCP: an offer in a
 * reliable 183 answered in the PRACK (RFC 3262 §5), then an UPDATE in the early dialog (RFC 3311
 * §5.1) before the 2xx. SIPp's exit status says whether the peer saw what it expected (Supported:
 * 100rel, RAck, the answer in the PRACK, the offer in the UPDATE, an ACK without SDP).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePortBlock } from '../../support/ports.js';
import { parseSippMessages, startSippUas, type SippTransport } from '../../support/sipp.js';
import { next, sdp, startUa } from './harness.js';

const OURS = (name: string): string => fileURLToPath(new URL(`../../peers/sipp/${name}.xml`, import.meta.url));
const TRANSPORTS: SippTransport[] = ['udp', 'tcp'];

describe('UA core in early dialogs against SIPp', () => {
  for (const transport of TRANSPORTS) {
    test(`an offer in a reliable 183 is answered in the PRACK, an UPDATE then changes the early session, the 200 only confirms (${transport})`, async (t) => {
      const base = await freePortBlock(10);
      const sipp = await startSippUas(t, { scenario: OURS('uas-early-offer-update'), port: base + 1, mediaPort: base + 4, transport, timeoutSeconds: 20 });
      const { ua, requestsSent, errors } = await startUa(t, base);
      const session = ua.invite({ to: `<${sipp.uri('alice')}>`, from: '<sip:ctd@127.0.0.1>', reliableProvisionals: true });
      const [offer] = await next(session, 'earlyOffer');
      assert.match(offer.description, new RegExp(`\\r?\\nm=audio ${base + 4} RTP/AVP 0 8 101\\r?\\n`), "SIPp's offer");
      const answered = next(session, 'answered');
      offer.answer({ body: sdp(1) });
      // The PRACK's 200 ends the INVITE's exchange: an offer may now go in an UPDATE.
      let update: Awaited<ReturnType<typeof session.update>> | undefined;
      for (let tries = 0; update === undefined && tries < 100; tries++) {
        try {
          update = await session.update({ body: sdp(2, 40000, [0]) });
        } catch (error) {
          if (!/exchange is over/.test(String(error))) throw error;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      assert.equal(update?.status, 200);
      assert.match(session.remoteDescription ?? '', /\r?\nm=audio \d+ RTP\/AVP 0 101\r?\n/, "the UPDATE's 200 carried SIPp's answer");
      const [, ackPending] = await answered;
      assert.equal(ackPending, false, 'the 200 repeats the description: no new offer');
      assert.equal(session.state, 'confirmed');
      const ended = next(session, 'ended');
      session.hangup();
      await ended;
      const exit = await sipp.wait(15_000);
      assert.equal(exit.code, 0, await sipp.report());
      const toSipp = parseSippMessages(await sipp.messages()).filter((m) => m.direction === 'received' && m.method !== null);
      assert.deepEqual([...new Set(toSipp.map((m) => m.method))], ['INVITE', 'PRACK', 'UPDATE', 'ACK', 'BYE']);
      assert.equal(requestsSent('UPDATE').length >= 1, true);
      assert.deepEqual(errors, []);
    });
  }
});
