import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CallEvent } from '../../src/engine/index.js';
import { changeForEvent } from '../../src/queue/index.js';

const at = Date.UTC(2026, 11, 1, 8, 0, 0);
const base = { callId: 'call_1', at };

function numbering(start = 1): () => number {
  let next = start;
  return () => next++;
}

describe('what engine events change and publish', () => {
  test('a run of engine events becomes gap-free public events: calling_a/calling_b and leg endings publish nothing', () => {
    const events: CallEvent[] = [
      { ...base, seq: 1, type: 'call.status', status: 'calling_a' },
      { ...base, seq: 2, type: 'leg.status', leg: 'a', status: 'calling', sipCallId: 'x1' },
      { ...base, seq: 3, type: 'leg.status', leg: 'a', status: 'ringing', sip: { code: 180, reason: 'Ringing' } },
      { ...base, seq: 4, type: 'leg.status', leg: 'a', status: 'answered', sip: { code: 200, reason: 'OK' } },
      { ...base, seq: 5, type: 'call.status', status: 'calling_b' },
      { ...base, seq: 6, type: 'leg.status', leg: 'b', status: 'early', sip: { code: 183, reason: 'Session Progress' } },
      { ...base, seq: 7, type: 'leg.status', leg: 'b', status: 'ringing', forwarded: true, sip: { code: 181, reason: 'Call Is Being Forwarded' } },
      { ...base, seq: 8, type: 'call.status', status: 'connected' },
      { ...base, seq: 9, type: 'leg.status', leg: 'a', status: 'connected' },
      { ...base, seq: 10, type: 'call.transfer', outcome: 'started', target: 'sip:c@x', method: 'reinvite' },
      { ...base, seq: 11, type: 'call.transfer', outcome: 'completed', target: 'sip:c@x', method: 'reinvite' },
      { ...base, seq: 12, type: 'call.status', status: 'completed', endReason: 'a_hangup' },
      { ...base, seq: 13, type: 'leg.status', leg: 'b', status: 'ended' },
    ];
    const next = numbering(2); // 1 is the API's call.queued
    const published = events.map((event) => changeForEvent(event, next).event).filter((e) => e !== undefined);
    assert.deepEqual(
      published.map((e) => [e.sequence, e.type, e.leg ?? null]),
      [
        [2, 'call.leg.calling', 'a'],
        [3, 'call.leg.ringing', 'a'],
        [4, 'call.leg.answered', 'a'],
        [5, 'call.leg.ringing', 'b'],
        [6, 'call.leg.forwarded', 'b'],
        [7, 'call.connected', null],
        [8, 'call.transferred', null],
        [9, 'call.completed', null],
      ],
    );
    assert.deepEqual(published[3]!.payload, { early: true }, 'a 183 is ringing with early media');
  });

  test('the final status records the end reason, the SIP cause, the failed leg and the end time on the call', () => {
    const change = changeForEvent({ ...base, seq: 9, type: 'call.status', status: 'failed', endReason: 'b_busy', failedLeg: 'b', sip: { code: 486, reason: 'Busy Here' } }, numbering());
    assert.deepEqual(change.callUpdate, { status: 'failed', endReason: 'b_busy', sipCode: 486, sipReason: 'Busy Here', failedLeg: 'b', endedAt: new Date(at) });
    assert.equal(change.event?.type, 'call.failed');
    assert.deepEqual(change.event?.sip, { code: 486, reason: 'Busy Here' });
    assert.equal(change.event?.endReason, 'b_busy');
  });

  test('a leg answering records its answer time and SIP Call-ID; a leg ending records its end time without an event', () => {
    const answered = changeForEvent({ ...base, seq: 3, type: 'leg.status', leg: 'a', status: 'answered', sipCallId: 'abc', sip: { code: 200, reason: 'OK' } }, numbering());
    assert.deepEqual(answered.legUpdate, { leg: 'a', status: 'answered', sipCode: 200, sipReason: 'OK', sipCallId: 'abc', answeredAt: new Date(at) });
    const ended = changeForEvent({ ...base, seq: 9, type: 'leg.status', leg: 'b', status: 'ended' }, () => assert.fail('no sequence for an unpublished change'));
    assert.deepEqual(ended.legUpdate, { leg: 'b', status: 'ended', endedAt: new Date(at) });
    assert.equal(ended.event, undefined);
  });

  test('connected stamps connectedAt on the call', () => {
    const change = changeForEvent({ ...base, seq: 8, type: 'call.status', status: 'connected' }, numbering(7));
    assert.deepEqual(change.callUpdate, { status: 'connected', connectedAt: new Date(at) });
    assert.equal(change.event?.sequence, 7);
  });
});
