// RFC 3261 §13.3.1.4: the UAS core re-sends its 2xx to an INVITE until the ACK comes, on a ManualClock.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../src/sip/clock.js';
import { defaultTimerValues, type TimerValues } from '../../../src/sip/timers.js';
import { Invite2xxRetransmission } from '../../../src/sip/ua/invite-2xx-retransmission.js';

interface Run {
  clock: ManualClock;
  machine: Invite2xxRetransmission;
  /** clock.now() of each retransmission. */
  sent: number[];
  /** clock.now() of each onAckTimeout call. */
  timeouts: number[];
}

function start(reliable: boolean, timers: TimerValues = defaultTimerValues): Run {
  const clock = new ManualClock();
  const sent: number[] = [];
  const timeouts: number[] = [];
  const machine = new Invite2xxRetransmission(clock, timers, reliable, () => sent.push(clock.now()), () => timeouts.push(clock.now()));
  return { clock, machine, sent, timeouts };
}

describe('Invite2xxRetransmission (RFC 3261 §13.3.1.4)', () => {
  it('over UDP re-sends the 2xx at T1, then doubling intervals capped at T2 (500, 1500, 3500, 7500, 11500 ms…)', () => {
    const run = start(false);
    run.clock.advance(499);
    assert.deepEqual(run.sent, [], 'nothing before T1');
    run.clock.advance(1);
    assert.deepEqual(run.sent, [500]);
    run.clock.advance(31_000); // to 31 500
    // Intervals 500, 1000, 2000, 4000 (T2), 4000, …
    assert.deepEqual(run.sent, [500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500]);
    assert.equal(run.machine.state, 'waiting');
  });

  it('caps the interval at a configured T2 (T1 100, T2 400: 100, 300, 700, 1100, 1500)', () => {
    const run = start(false, { T1: 100, T2: 400, T4: 5000 });
    run.clock.advance(1500);
    assert.deepEqual(run.sent, [100, 300, 700, 1100, 1500]);
  });

  it('over a reliable transport never re-sends, yet still gives up after 64*T1', () => {
    const run = start(true);
    run.clock.advance(31_999);
    assert.deepEqual(run.sent, []);
    assert.deepEqual(run.timeouts, []);
    run.clock.advance(1);
    assert.deepEqual(run.sent, []);
    assert.deepEqual(run.timeouts, [32_000]);
    assert.equal(run.machine.state, 'timed-out');
  });

  it('acknowledged() stops the retransmissions and the give-up timer, and leaves no timer behind', () => {
    const run = start(false);
    run.clock.advance(2000); // re-sent at 500 and 1500
    run.machine.acknowledged();
    assert.equal(run.machine.state, 'acknowledged');
    assert.equal(run.clock.pendingTimers, 0);
    run.clock.advance(60_000);
    assert.deepEqual(run.sent, [500, 1500]);
    assert.deepEqual(run.timeouts, []);
  });

  it('a second acknowledged() or a later stop() changes nothing', () => {
    const run = start(false);
    run.machine.acknowledged();
    run.machine.acknowledged();
    run.machine.stop();
    assert.equal(run.machine.state, 'acknowledged');
  });

  it('stop() ends it without calling onAckTimeout', () => {
    const run = start(false);
    run.clock.advance(600);
    run.machine.stop();
    assert.equal(run.machine.state, 'stopped');
    assert.equal(run.clock.pendingTimers, 0);
    run.clock.advance(64_000);
    assert.deepEqual(run.sent, [500]);
    assert.deepEqual(run.timeouts, []);
  });

  it('without an ACK calls onAckTimeout exactly once, at 64*T1, and re-sends nothing after it', () => {
    const run = start(false);
    run.clock.advance(31_999);
    assert.deepEqual(run.timeouts, []);
    run.clock.advance(1);
    assert.deepEqual(run.timeouts, [32_000]);
    assert.equal(run.machine.state, 'timed-out');
    const sentBefore = run.sent.length;
    run.clock.advance(120_000);
    assert.deepEqual(run.timeouts, [32_000]);
    assert.equal(run.sent.length, sentBefore);
    assert.equal(run.sent.length, 10);
    assert.equal(run.clock.pendingTimers, 0);
    // Too late to matter: an ACK after the timeout does not revive it.
    run.machine.acknowledged();
    assert.equal(run.machine.state, 'timed-out');
  });

  it('gives up at 64*T1 of the configured T1 (T1 200: at 12 800 ms)', () => {
    const run = start(false, { T1: 200, T2: 4000, T4: 5000 });
    run.clock.advance(12_799);
    assert.deepEqual(run.timeouts, []);
    run.clock.advance(1);
    assert.deepEqual(run.timeouts, [12_800]);
  });
});
