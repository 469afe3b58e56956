import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../../src/sip/clock.js';
import { DialogError, SessionDialog, type DialogSnapshot } from '../../../src/sip/dialog/index.js';
import { serializeMessage } from '../../../src/sip/message/index.js';
import { fromAlice, inviteToAlice, requestFromAlice, sdp } from './fixtures.js';

function liveDialog() {
  const { dialog } = SessionDialog.uac(
    inviteToAlice(),
    fromAlice({ status: 200, reason: 'OK', recordRoute: '<sip:p2.example.net;lr>, <sip:p1.example.com>', body: sdp(1) }),
    { clock: new ManualClock() },
  );
  dialog.createAck();
  dialog.createRequest('INFO', { body: 'Signal=1\r\n', contentType: 'application/dtmf-relay' });
  dialog.receiveRequest(requestFromAlice({ method: 'OPTIONS', cseq: 77, contact: undefined }));
  return dialog;
}

describe('dialog snapshot', () => {
  test('survives JSON and rebuilds a dialog that sends the identical BYE', () => {
    const dialog = liveDialog();
    const stored = JSON.stringify(dialog);
    const snapshot = JSON.parse(stored) as DialogSnapshot;
    assert.deepEqual(snapshot, {
      version: 1,
      role: 'uac',
      state: 'confirmed',
      callId: dialog.callId,
      localTag: dialog.localTag,
      remoteTag: 'as83kd9bs',
      localUri: 'sip:ctd@ctd.example.com',
      localDisplayName: 'Click to Dial',
      remoteUri: 'sip:alice@example.com',
      remoteDisplayName: 'Alice',
      localCSeq: 314160,
      remoteCSeq: 77,
      routeSet: ['<sip:p1.example.com>', '<sip:p2.example.net;lr>'],
      remoteTarget: 'sip:alice@192.0.2.10:5062;transport=udp',
      localContact: '<sip:ctd@10.0.0.1:5060>',
      secure: false,
    });

    const restored = SessionDialog.fromSnapshot(snapshot, { clock: new ManualClock() });
    const original = dialog.createRequest('BYE');
    const rebuilt = restored.createRequest('BYE');
    assert.equal(serializeMessage(rebuilt.request).toString(), serializeMessage(original.request).toString());
    assert.equal(rebuilt.nextHop.toString(), original.nextHop.toString());
    assert.equal(rebuilt.request.requestUri, 'sip:p1.example.com', 'the strict route survives');
    assert.deepEqual(rebuilt.request.cseq, { seq: 314161, method: 'BYE' });
    // The restored dialog still checks the peer's CSeq.
    const stale = SessionDialog.fromSnapshot(snapshot, { clock: new ManualClock() }).receiveRequest(requestFromAlice({ method: 'INFO', cseq: 70, body: 'x', contentType: 'text/plain' }));
    assert.equal(stale.kind === 'reject' && stale.response.status, 500);
  });

  test('a damaged snapshot is refused with the field named', () => {
    const snapshot = liveDialog().toJSON();
    const damaged: Array<[string, unknown]> = [
      ['version', 2],
      ['callId', ''],
      ['remoteTarget', 'tel:+15551234567'],
      ['routeSet', ['<http://example.com>']],
      ['localCSeq', 2 ** 31],
      ['state', 'ringing'],
    ];
    for (const [field, value] of damaged) {
      assert.throws(
        () => SessionDialog.fromSnapshot({ ...snapshot, [field]: value } as DialogSnapshot, { clock: new ManualClock() }),
        (e: unknown) => e instanceof DialogError && e.code === 'BAD_SNAPSHOT' && e.message.includes(field),
        field,
      );
    }
  });
});
