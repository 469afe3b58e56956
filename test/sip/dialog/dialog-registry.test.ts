import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../../src/sip/clock.js';
import { DialogRegistry, InviteDialogSet, SessionDialog } from '../../../src/sip/dialog/index.js';
import { CALL_ID, fromAlice, inviteToAlice, parseRequest, requestFromAlice, sdp } from './fixtures.js';

function registryWithDialog() {
  const registry = new DialogRegistry();
  const { dialog } = SessionDialog.uac(inviteToAlice(), fromAlice({ status: 200, reason: 'OK', body: sdp(1) }), { clock: new ManualClock() });
  registry.add(dialog);
  return { registry, dialog };
}

describe('dialog lookup (RFC 3261 §12.2.2)', () => {
  test('a request is matched by Call-ID, To tag (ours) and From tag (theirs)', () => {
    const { registry, dialog } = registryWithDialog();
    const bye = requestFromAlice({ method: 'BYE', cseq: 2, contact: undefined });
    assert.equal(registry.find(bye), dialog);
    assert.deepEqual(registry.match(bye), { kind: 'dialog', dialog });
  });

  test('a response is matched by Call-ID, From tag (ours) and To tag (theirs)', () => {
    const { registry, dialog } = registryWithDialog();
    const { request } = dialog.createRequest('OPTIONS');
    const ok = fromAlice({ status: 200, reason: 'OK', cseq: request.cseq.seq, method: 'OPTIONS', contact: undefined });
    assert.equal(registry.find(ok), dialog);
    assert.equal(registry.get(dialog.id), dialog);
  });

  test('an unknown dialog gets 481, an ACK for one is dropped', () => {
    const { registry } = registryWithDialog();
    const stray = requestFromAlice({ method: 'BYE', cseq: 2, fromTag: 'someone-else', contact: undefined });
    assert.equal(registry.find(stray), undefined);
    const match = registry.match(stray);
    assert.equal(match.kind, 'no-dialog');
    assert.equal(match.kind === 'no-dialog' && match.response?.status, 481);
    assert.equal(match.kind === 'no-dialog' && match.response?.reason, 'Call/Transaction Does Not Exist');
    const ack = parseRequest(`
      ACK sip:ctd@10.0.0.1:5060 SIP/2.0
      Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-stray-ack
      Max-Forwards: 70
      To: <sip:ctd@ctd.example.com>;tag=unknown
      From: <sip:alice@example.com>;tag=as83kd9bs
      Call-ID: ${CALL_ID}
      CSeq: 1 ACK
    `);
    assert.deepEqual(registry.match(ack), { kind: 'no-dialog', response: undefined });
  });

  test('a request without To tag is outside any dialog', () => {
    const { registry } = registryWithDialog();
    const options = parseRequest(`
      OPTIONS sip:ctd@10.0.0.1:5060 SIP/2.0
      Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-ping
      Max-Forwards: 70
      To: <sip:ctd@ctd.example.com>
      From: <sip:alice@example.com>;tag=ping
      Call-ID: ping-1@example.com
      CSeq: 1 OPTIONS
    `);
    assert.deepEqual(registry.match(options), { kind: 'out-of-dialog' });
  });

  test('removed dialogs are no longer found', () => {
    const { registry, dialog } = registryWithDialog();
    registry.remove(dialog);
    assert.equal(registry.size, 0);
    assert.equal(registry.find(requestFromAlice({ method: 'BYE', cseq: 2 })), undefined);
  });

  test('a response from a new fork finds the INVITE set, which registers the dialog it creates', () => {
    const registry = new DialogRegistry();
    const set = new InviteDialogSet(inviteToAlice(), { clock: new ManualClock(), registry });
    const ringing = fromAlice({ status: 180, reason: 'Ringing', toTag: 'fork-b' });
    assert.equal(registry.find(ringing), undefined);
    assert.equal(registry.findInviteSet(ringing), set);
    const outcome = set.receiveResponse(ringing);
    assert.equal(outcome.kind, 'early');
    assert.equal(registry.find(ringing), outcome.kind === 'early' ? outcome.dialog : undefined);
    registry.removeInviteSet(set);
    assert.equal(registry.findInviteSet(ringing), undefined);
  });
});
