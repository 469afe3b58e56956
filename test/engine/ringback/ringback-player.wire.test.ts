// The ringback player on real sockets and the real clock, over the loopback interface.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import {
  RingbackPlayer,
  createToneFrames,
  createUdpRingbackSocket,
  NORTH_AMERICAN_RINGBACK,
  type RingbackEndReason,
} from '../../../src/engine/ringback/index.js';
import { systemClock } from '../../../src/sip/index.js';
import { readRtpPacket } from './g711-decode.js';

interface Received {
  packet: Buffer;
  address: string;
  port: number;
}

async function receiver(): Promise<{ socket: Socket; port: number; received: Received[] }> {
  const socket = createSocket('udp4');
  const received: Received[] = [];
  socket.on('message', (packet, remote) => received.push({ packet, address: remote.address, port: remote.port }));
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return { socket, port: socket.address().port, received };
}

describe('RingbackPlayer on the wire', { timeout: 10_000 }, () => {
  it('sends a ringback stream of well-formed RTP to a UDP socket on 127.0.0.1, 50 packets a second', async () => {
    const sink = await receiver();
    const player = new RingbackPlayer({ socket: await createUdpRingbackSocket('127.0.0.1'), clock: systemClock });
    try {
      const local = player.localAddress();
      assert.equal(local.address, '127.0.0.1');
      assert.ok(local.port > 0);
      const started = performance.now();
      const handle = player.play({ address: '127.0.0.1', port: sink.port, payloadType: 8, codec: 'PCMA' });
      await sleep(300);
      handle.stop();
      const elapsed = performance.now() - started;
      await sleep(100);
      const count = sink.received.length;
      await sleep(60);
      assert.equal(sink.received.length, count, 'nothing after stop()');

      // One every 20 ms from t = 0; a loaded machine may be late by a tick or two at the end.
      const expected = Math.floor(elapsed / 20) + 1;
      assert.ok(count >= expected - 3 && count <= expected + 1, `${count} packets in ${elapsed.toFixed(0)} ms`);
      assert.equal(handle.packetsSent, count);
      const frames = createToneFrames(NORTH_AMERICAN_RINGBACK, 'PCMA').frames;
      const packets = sink.received.map(({ packet, address, port }, index) => {
        assert.equal(address, '127.0.0.1');
        assert.equal(port, local.port, 'sent from the address the held answer names');
        assert.equal(packet.length, 172);
        const rtp = readRtpPacket(packet);
        assert.deepEqual([rtp.version, rtp.padding, rtp.extension, rtp.csrcCount, rtp.payloadType], [2, false, false, 0, 8]);
        assert.equal(rtp.marker, index === 0);
        assert.equal(rtp.ssrc, handle.ssrc);
        assert.ok(rtp.payload.equals(frames[index]!), `payload ${index}`);
        return rtp;
      });
      for (let index = 1; index < packets.length; index++) {
        assert.equal(packets[index]!.sequenceNumber, (packets[index - 1]!.sequenceNumber + 1) & 0xffff);
        assert.equal(packets[index]!.timestamp, (packets[index - 1]!.timestamp + 160) >>> 0);
      }
    } finally {
      player.close();
      sink.socket.close();
    }
  });

  it('stops a stream the kernel refuses to send, and keeps the others playing', async () => {
    const sink = await receiver();
    const player = new RingbackPlayer({ socket: await createUdpRingbackSocket('127.0.0.1'), clock: systemClock });
    try {
      const ended: Array<[RingbackEndReason, string | undefined]> = [];
      // A socket bound to loopback cannot reach 192.0.2.1 (TEST-NET-1): the kernel says EINVAL.
      const unreachable = player.play({
        address: '192.0.2.1',
        port: 6000,
        payloadType: 0,
        codec: 'PCMU',
        onEnd: (reason, error) => ended.push([reason, (error as NodeJS.ErrnoException | undefined)?.code]),
      });
      const healthy = player.play({ address: '127.0.0.1', port: sink.port, payloadType: 0, codec: 'PCMU' });
      await sleep(200);
      assert.equal(unreachable.active, false);
      assert.equal(ended.length, 1);
      assert.equal(ended[0]![0], 'send-failed');
      assert.ok(ended[0]![1] !== undefined, 'the error carries its errno code');
      assert.equal(unreachable.sendErrors, 5);
      assert.equal(healthy.active, true);
      assert.ok(sink.received.length >= 5, `${sink.received.length} packets`);
      assert.equal(player.activeStreams, 1);
    } finally {
      player.close();
      sink.socket.close();
    }
  });

  it('fails to bind an address this host does not have', async () => {
    await assert.rejects(createUdpRingbackSocket('192.0.2.1'), (error: NodeJS.ErrnoException) => error.code === 'EADDRNOTAVAIL');
  });
});
