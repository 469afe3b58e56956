// Random bytes and mutated messages thrown at both transports: nothing a peer sends may crash
// the process or surface as an internal error, and the layer keeps working afterwards.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { InboundMessage } from '../../../src/sip/transport/index.js';
import { TORTURE_DIR, TcpPeer, UdpPeer, delay, nextEvent, requestText, startLayer, torture, until } from './helpers.js';

/** xorshift32: the same garbage on every run, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x100000000;
  };
}

const SEEDS = torture('wsinv.dat');
const CORPUS = readdirSync(TORTURE_DIR).filter((f) => f.endsWith('.dat')).map(torture);
const TOKENS = ['\r\n', '\r\n\r\n', ':', ';', ',', '<', '>', '"', 'SIP/2.0', 'Via: ', 'Content-Length: 99999', 'l: -1', '\x00', '%00', ' ', '\t'];

function garbage(next: () => number, i: number): Buffer {
  const pick = (n: number): number => Math.floor(next() * n);
  if (i % 3 === 0) {
    const bytes = Buffer.alloc(1 + pick(1500));
    for (let j = 0; j < bytes.length; j++) bytes[j] = pick(256);
    return bytes;
  }
  // A real message with bytes flipped, cut, or tokens spliced in.
  const base = Buffer.from(i % 2 ? SEEDS : CORPUS[pick(CORPUS.length)]!);
  const mutated = Buffer.from(base);
  for (let k = pick(8); k >= 0; k--) mutated[pick(mutated.length)] = pick(256);
  const cut = mutated.subarray(0, 1 + pick(mutated.length));
  const token = Buffer.from(TOKENS[pick(TOKENS.length)]!);
  const at = pick(cut.length);
  return Buffer.concat([cut.subarray(0, at), token, cut.subarray(at)]);
}

describe('garbage from peers', () => {
  it('never crashes the UDP path and keeps serving', async (t) => {
    const { layer, port } = await startLayer(t);
    const client = await UdpPeer.open(t);
    const next = random(4475);
    for (let i = 0; i < 600; i++) {
      await client.send(garbage(next, i), port);
      // In batches, so that the loopback socket buffer never overflows and drops datagrams.
      if (i % 20 === 19) await until(() => layer.stats().udp.messagesIn === i + 1, `datagram ${i + 1} handled`, 5000);
    }
    const stats = layer.stats();
    assert.equal(stats.internalErrors, 0);
    assert.ok(Object.values(stats.malformed).reduce((a, b) => a + b, 0) > 300);

    const arrived = nextEvent<[InboundMessage]>(layer, 'message');
    await client.send(requestText({ callId: 'still-alive' }), port);
    assert.equal((await arrived)[0].message.callId, 'still-alive');
  });

  it('never crashes the TCP path: broken streams are closed, others carry on', async (t) => {
    const { layer, port } = await startLayer(t);
    const next = random(3261);
    for (let round = 0; round < 40; round++) {
      const client = await TcpPeer.connect(t, port);
      for (let i = 0; i < 5 && !client.ended; i++) {
        await client.write(garbage(next, round * 5 + i)).catch(() => undefined);
      }
      client.socket.destroy();
      await client.closed;
    }
    await until(() => layer.stats().tcp.connectionsOpen === 0, 'every connection closed', 5000);
    assert.equal(layer.stats().internalErrors, 0);

    const client = await TcpPeer.connect(t, port);
    const arrived = nextEvent<[InboundMessage]>(layer, 'message');
    await client.write(requestText({ transport: 'TCP', callId: 'still-alive' }));
    assert.equal((await arrived)[0].message.callId, 'still-alive');
    await delay(1);
  });
});
