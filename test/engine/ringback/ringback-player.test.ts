import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, it } from 'node:test';
import {
  EUROPEAN_RINGBACK,
  NORTH_AMERICAN_RINGBACK,
  RingbackError,
  RingbackPlayer,
  createToneFrames,
  ringbackTargetOf,
  type RingbackEndReason,
  type RingbackSocket,
  type RingbackTarget,
  type SendCallback,
} from '../../../src/engine/ringback/index.js';
import { createHeldAnswer, parseSdp } from '../../../src/sdp/index.js';
import { ManualClock, type TimerHandle } from '../../../src/sip/index.js';
import { readRtpPacket, type ReadRtpPacket } from './g711-decode.js';

interface SentPacket extends ReadRtpPacket {
  at: number;
  address: string;
  port: number;
}

/** Records what the player sends; `failure` decides per datagram whether the send fails. */
class FakeSocket implements RingbackSocket {
  readonly sent: SentPacket[] = [];
  closed = false;
  failure: (address: string, port: number, attempt: number) => 'ok' | 'callback' | 'throw' = () => 'ok';
  /** Report outcomes later, as node:dgram does, instead of during send(). */
  asynchronous = false;
  private attempts = 0;

  constructor(private readonly clock: ManualClock) {}

  send(packet: Buffer, port: number, address: string, callback: SendCallback): void {
    const outcome = this.failure(address, port, this.attempts++);
    if (outcome === 'throw') throw Object.assign(new Error(`send EHOSTUNREACH ${address}:${port}`), { code: 'EHOSTUNREACH' });
    const error = outcome === 'callback' ? Object.assign(new Error(`send EHOSTUNREACH ${address}:${port}`), { code: 'EHOSTUNREACH' }) : null;
    if (error === null) this.sent.push({ ...readRtpPacket(Buffer.from(packet)), at: this.clock.now(), address, port });
    if (this.asynchronous) setImmediate(() => callback(error));
    else callback(error);
  }

  address() {
    return { address: '192.0.2.10', port: 40_000 };
  }

  close(): void {
    this.closed = true;
  }

  to(address: string, port = 6000): SentPacket[] {
    return this.sent.filter((packet) => packet.address === address && packet.port === port);
  }
}

/** A ManualClock whose timers fire `lateByMs` after they were asked to: a busy event loop. */
class LateClock extends ManualClock {
  lateByMs = 0;
  override setTimer(delayMs: number, callback: () => void): TimerHandle {
    return super.setTimer(delayMs + this.lateByMs, callback);
  }
}

const TARGET: RingbackTarget = { address: '198.51.100.7', port: 6000, payloadType: 0, codec: 'PCMU' };

function setup(options: { clock?: ManualClock; randomUint32?: () => number } = {}) {
  const clock = options.clock ?? new ManualClock();
  const socket = new FakeSocket(clock);
  const player = new RingbackPlayer({ socket, clock, ...(options.randomUint32 ? { randomUint32: options.randomUint32 } : {}) });
  return { clock, socket, player };
}

/** Each packet follows the one before: sequence number +1, timestamp +160 (RFC 3551 §4.5.14). */
function assertContiguous(packets: readonly SentPacket[]): void {
  for (let index = 1; index < packets.length; index++) {
    const [before, packet] = [packets[index - 1]!, packets[index]!];
    assert.equal(packet.sequenceNumber, (before.sequenceNumber + 1) & 0xffff, `sequence number of packet ${index}`);
    assert.equal(packet.timestamp, (before.timestamp + 160) >>> 0, `timestamp of packet ${index}`);
  }
}

describe('RingbackPlayer', () => {
  it('holds no timer while nothing plays', () => {
    const { clock, player } = setup();
    assert.equal(clock.pendingTimers, 0);
    assert.equal(player.activeStreams, 0);
    clock.advance(1000);
    assert.equal(clock.pendingTimers, 0);
  });

  it('sends 50 packets a second, sequence number +1 and timestamp +160, the marker only on the first', () => {
    const { clock, socket, player } = setup();
    player.play(TARGET);
    clock.advance(0);
    assert.equal(socket.sent.length, 1, 'the first packet leaves at once');
    clock.advance(999);
    assert.equal(socket.sent.length, 50);
    clock.advance(1000);
    assert.equal(socket.sent.filter((packet) => packet.at >= 1000 && packet.at < 2000).length, 50);
    const packets = socket.to('198.51.100.7');
    assert.equal(packets.length, socket.sent.length);
    assertContiguous(packets);
    assert.deepEqual(
      packets.map((packet) => packet.marker),
      packets.map((_, index) => index === 0),
    );
    for (const packet of packets) {
      assert.equal(packet.version, 2);
      assert.equal(packet.padding, false);
      assert.equal(packet.extension, false);
      assert.equal(packet.csrcCount, 0);
      assert.equal(packet.payloadType, 0);
      assert.equal(packet.ssrc, packets[0]!.ssrc);
      assert.equal(packet.payload.length, 160);
      assert.equal(packet.at % 20, 0);
    }
  });

  it('plays the tone cycle from its start, frame after frame, and repeats it', () => {
    const { clock, socket, player } = setup();
    player.play({ address: '198.51.100.7', port: 6000, payloadType: 0, codec: 'PCMU' });
    clock.advance(6000 + 20 * 19);
    const frames = createToneFrames(NORTH_AMERICAN_RINGBACK, 'PCMU').frames;
    assert.equal(socket.sent.length, 320);
    socket.sent.forEach((packet, index) => assert.ok(packet.payload.equals(frames[index % 300]!), `frame ${index}`));
  });

  it('plays A-law with the payload type A gave it and the tone plan it was given', () => {
    const clock = new ManualClock();
    const socket = new FakeSocket(clock);
    const player = new RingbackPlayer({ socket, clock, tone: EUROPEAN_RINGBACK });
    player.play({ address: '198.51.100.7', port: 6000, payloadType: 98, codec: 'PCMA' });
    clock.advance(5000);
    const frames = createToneFrames(EUROPEAN_RINGBACK, 'PCMA').frames;
    assert.ok(socket.sent.every((packet) => packet.payloadType === 98));
    socket.sent.forEach((packet, index) => assert.ok(packet.payload.equals(frames[index % 250]!), `frame ${index}`));
  });

  it('serves every stream from one ticker: one timer for three streams, none once all stop', () => {
    const { clock, socket, player } = setup();
    const handles = [player.play(TARGET)];
    clock.advance(7);
    handles.push(player.play({ ...TARGET, port: 6002 }));
    clock.advance(6);
    handles.push(player.play({ ...TARGET, address: '203.0.113.5', codec: 'PCMA', payloadType: 8 }));
    assert.equal(clock.pendingTimers, 1);
    assert.equal(player.activeStreams, 3);
    clock.advance(987); // t = 1000
    assert.equal(clock.pendingTimers, 1);
    assert.equal(socket.to('198.51.100.7').length, 51);
    // The later streams joined at the next tick (t = 20) and share every tick since.
    assert.equal(socket.to('198.51.100.7', 6002).length, 50);
    assert.equal(socket.to('203.0.113.5').length, 50);
    assert.ok(socket.sent.every((packet) => packet.at % 20 === 0));
    assert.equal(new Set(handles.map((handle) => handle.ssrc)).size, 3);
    for (const handle of handles) assertContiguous(socket.sent.filter((packet) => packet.ssrc === handle.ssrc));

    handles[0]!.stop();
    assert.equal(clock.pendingTimers, 1);
    handles[1]!.stop();
    handles[2]!.stop();
    assert.equal(clock.pendingTimers, 0);
    assert.equal(player.activeStreams, 0);
    const count = socket.sent.length;
    clock.advance(1000);
    assert.equal(socket.sent.length, count);
  });

  it('starts the ticker again, at once, for a stream after an idle spell', () => {
    const { clock, socket, player } = setup();
    player.play(TARGET).stop();
    clock.advance(35);
    assert.equal(socket.sent.length, 0);
    player.play(TARGET);
    clock.advance(0);
    assert.equal(socket.sent.length, 1);
    assert.equal(socket.sent[0]!.at, 35);
    clock.advance(40);
    assert.deepEqual(socket.sent.map((packet) => packet.at), [35, 55, 75]);
  });

  it('catches up after a late tick: the frames that came due leave together, without a gap', () => {
    const clock = new LateClock();
    const { socket, player } = setup({ clock });
    player.play(TARGET);
    clock.advance(100); // ticks 0..5; the timer for tick 6 (t = 120) is set
    clock.lateByMs = 50;
    clock.advance(20); // tick 6 on time; tick 7 (due at 140) will come at 190
    clock.lateByMs = 0;
    clock.advance(69);
    assert.equal(socket.sent.length, 7);
    clock.advance(1); // t = 190: ticks 7, 8 and 9 are due
    assert.equal(socket.sent.length, 10);
    assert.deepEqual(socket.sent.slice(7).map((packet) => packet.at), [190, 190, 190]);
    clock.advance(10);
    assert.equal(socket.sent.at(-1)!.at, 200, 'back on the ideal schedule');
    assertContiguous(socket.sent);
    assert.equal(socket.sent.filter((packet) => packet.marker).length, 1);
  });

  it('does not drift when every timer fires late', () => {
    const clock = new LateClock();
    clock.lateByMs = 3;
    const { socket, player } = setup({ clock });
    player.play(TARGET);
    clock.advance(10_000);
    // Ticks are due at 20k and come at 20k + 3; rescheduling 20 ms after each would give 435.
    assert.equal(socket.sent.length, 500);
    assertContiguous(socket.sent);
  });

  it('skips frames it is too late for, at most three at once; the timestamp counts the gap and the marker flags it', () => {
    const clock = new LateClock();
    const { socket, player } = setup({ clock });
    player.play(TARGET);
    clock.advance(100); // ticks 0..5; the timer for tick 6 (t = 120) is set
    clock.lateByMs = 500;
    clock.advance(20); // tick 6 on time; tick 7 (due at 140) will come at 640
    clock.lateByMs = 0;
    clock.advance(500);
    assert.equal(socket.sent.length, 7);
    clock.advance(20);
    assert.equal(socket.sent.length, 10);
    const [first, lastBefore, ...burst] = [socket.sent[0]!, socket.sent[6]!, ...socket.sent.slice(7)];
    assert.deepEqual(burst.map((packet) => packet.at), [640, 640, 640]);
    assert.equal(burst[0]!.sequenceNumber, (lastBefore.sequenceNumber + 1) & 0xffff, 'no sequence gap: nothing was lost');
    // Ticks 7..29 were skipped: the burst carries frames 30, 31 and 32.
    assert.equal(burst[0]!.timestamp, (first.timestamp + 30 * 160) >>> 0);
    assert.deepEqual(burst.map((packet) => packet.marker), [true, false, false]);
    const frames = createToneFrames(NORTH_AMERICAN_RINGBACK, 'PCMU').frames;
    burst.forEach((packet, index) => assert.ok(packet.payload.equals(frames[30 + index]!)));
  });

  it('chooses SSRC, first sequence number and first timestamp at random for each stream (RFC 3550 §5.1)', () => {
    const values = [0xcafebabe, 0x0001_fffe, 0x8000_0000, 0x12345678, 0x00000007, 0xffffffff];
    const { clock, socket, player } = setup({ randomUint32: () => values.shift()! });
    const first = player.play(TARGET);
    const second = player.play({ ...TARGET, port: 6002 });
    assert.equal(first.ssrc, 0xcafebabe);
    assert.equal(second.ssrc, 0x12345678);
    clock.advance(0);
    assert.deepEqual(
      socket.sent.map((packet) => [packet.ssrc, packet.sequenceNumber, packet.timestamp]),
      [
        [0xcafebabe, 0xfffe, 0x80000000],
        [0x12345678, 0x0007, 0xffffffff],
      ],
    );
    const random = setup();
    const ssrcs = new Set(Array.from({ length: 20 }, (_, index) => random.player.play({ ...TARGET, port: 7000 + index }).ssrc));
    assert.equal(ssrcs.size, 20);
  });

  it('wraps the sequence number at 2^16 and the timestamp at 2^32', () => {
    const values = [1, 0xfffe, 0xffffff00];
    const { clock, socket, player } = setup({ randomUint32: () => values.shift() ?? 0 });
    player.play(TARGET);
    clock.advance(60);
    assert.deepEqual(socket.sent.map((packet) => packet.sequenceNumber), [0xfffe, 0xffff, 0, 1]);
    assert.deepEqual(socket.sent.map((packet) => packet.timestamp), [0xffffff00, 0xffffffa0, 0x40, 0xe0]);
  });

  it('survives failed sends: a destination that keeps failing stops after five errors, the others play on', () => {
    const { clock, socket, player } = setup();
    socket.failure = (address) => (address === '203.0.113.9' ? 'callback' : address === '203.0.113.10' ? 'throw' : 'ok');
    const ends: Array<[string, RingbackEndReason, string | undefined]> = [];
    const healthy = player.play(TARGET);
    const reported = player.play({
      ...TARGET,
      address: '203.0.113.9',
      onEnd: (reason, error) => ends.push(['reported', reason, (error as NodeJS.ErrnoException | undefined)?.code]),
    });
    const thrown = player.play({
      ...TARGET,
      address: '203.0.113.10',
      onEnd: (reason, error) => ends.push(['thrown', reason, (error as NodeJS.ErrnoException | undefined)?.code]),
    });
    assert.doesNotThrow(() => clock.advance(1000));
    assert.deepEqual(ends, [
      ['reported', 'send-failed', 'EHOSTUNREACH'],
      ['thrown', 'send-failed', 'EHOSTUNREACH'],
    ]);
    for (const failed of [reported, thrown]) {
      assert.equal(failed.active, false);
      assert.equal(failed.sendErrors, 5);
      assert.equal(failed.packetsSent, 5);
    }
    assert.equal(player.activeStreams, 1);
    assert.equal(healthy.active, true);
    assert.equal(socket.to('198.51.100.7').length, 51);
    assert.equal(clock.pendingTimers, 1);
  });

  it('keeps playing through an occasional failed send', () => {
    const { clock, socket, player } = setup();
    socket.failure = (_address, _port, attempt) => (attempt % 3 === 2 ? 'callback' : 'ok');
    const handle = player.play(TARGET);
    clock.advance(999);
    assert.equal(handle.active, true);
    assert.equal(handle.packetsSent, 50);
    assert.equal(handle.sendErrors, 16);
  });

  it('counts errors node:dgram reports after send() has returned', async () => {
    const { clock, socket, player } = setup();
    socket.asynchronous = true;
    socket.failure = () => 'callback';
    let ended: RingbackEndReason | undefined;
    const handle = player.play({ ...TARGET, onEnd: (reason) => (ended = reason) });
    for (let tick = 0; tick < 5; tick++) {
      clock.advance(tick === 0 ? 0 : 20);
      await nextTurn();
    }
    assert.equal(ended, 'send-failed');
    assert.equal(handle.sendErrors, 5);
    assert.equal(clock.pendingTimers, 0);
  });

  it('plays a stream started from an onEnd callback during a tick', () => {
    const { clock, socket, player } = setup();
    socket.failure = (address) => (address === '203.0.113.9' ? 'callback' : 'ok');
    player.play({ ...TARGET, address: '203.0.113.9', onEnd: () => player.play({ ...TARGET, port: 6004 }) });
    clock.advance(80); // five failed sends, the last at t = 80
    assert.equal(player.activeStreams, 1);
    assert.equal(clock.pendingTimers, 1);
    clock.advance(100);
    assert.equal(socket.to('198.51.100.7', 6004).length, 5);
  });

  it('stop() is idempotent and reports "stopped" once', () => {
    const { clock, player } = setup();
    const reasons: RingbackEndReason[] = [];
    const handle = player.play({ ...TARGET, onEnd: (reason) => reasons.push(reason) });
    clock.advance(40);
    handle.stop();
    handle.stop();
    assert.deepEqual(reasons, ['stopped']);
    assert.equal(handle.active, false);
    assert.equal(handle.packetsSent, 3);
  });

  it('close() ends every stream as "closed", closes the socket and refuses new streams', () => {
    const { clock, socket, player } = setup();
    const reasons: RingbackEndReason[] = [];
    player.play({ ...TARGET, onEnd: (reason) => reasons.push(reason) });
    player.play({ ...TARGET, port: 6002, onEnd: (reason) => reasons.push(reason) });
    clock.advance(20);
    player.close();
    player.close();
    assert.deepEqual(reasons, ['closed', 'closed']);
    assert.equal(socket.closed, true);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(player.activeStreams, 0);
    assert.throws(() => player.play(TARGET), (error: unknown) => error instanceof RingbackError && error.code === 'PLAYER_CLOSED');
  });

  it('refuses a destination or a format it cannot send', () => {
    const { clock, player } = setup();
    assert.throws(() => player.play({ ...TARGET, port: 0 }), RangeError);
    assert.throws(() => player.play({ ...TARGET, port: 65_536 }), RangeError);
    assert.throws(() => player.play({ ...TARGET, address: '' }), RangeError);
    assert.throws(() => player.play({ ...TARGET, payloadType: 128 }), RangeError);
    assert.throws(() => player.play({ ...TARGET, codec: 'G729' as never }), RangeError);
    assert.equal(clock.pendingTimers, 0);
  });

  it('names its socket address for the held answer', () => {
    assert.deepEqual(setup().player.localAddress(), { address: '192.0.2.10', port: 40_000 });
  });
});

describe('ringbackTargetOf', () => {
  it("takes A's address, port and payload type from the held answer's ringback stream", () => {
    const offer = parseSdp(
      ['v=0', 'o=- 1 1 IN IP4 198.51.100.7', 's=-', 'c=IN IP4 198.51.100.7', 't=0 0', 'm=audio 6000 RTP/AVP 18 8 0', 'a=sendrecv', ''].join('\r\n'),
    );
    const { ringback } = createHeldAnswer(offer, { media: { kind: 'rtp-sender', address: '192.0.2.10', port: 40_000 } });
    assert.ok(ringback);
    assert.deepEqual(ringbackTargetOf(ringback), { address: '198.51.100.7', port: 6000, payloadType: 8, codec: 'PCMA' });
  });

  it('returns null for a codec the player cannot encode', () => {
    const stream = {
      mediaIndex: 0,
      codec: { payloadType: 18, name: 'G729', clockRate: 8000, channels: 1, addOn: false },
      remoteAddress: '198.51.100.7',
      remotePort: 6000,
    };
    assert.equal(ringbackTargetOf(stream), null);
    assert.deepEqual(ringbackTargetOf({ ...stream, codec: { ...stream.codec, name: 'pcmu', payloadType: 0 } })?.codec, 'PCMU');
  });
});
