/**
 * The dialogs one INVITE of ours creates when it forks (RFC 3261 §12.1.2, §13.2.2.4): one early
 * dialog per To tag of the provisional responses; the first 2xx confirms its dialog and ends the
 * others; a 2xx from any other fork afterwards creates (or revives) a dialog that must be
 * acknowledged and then ended with BYE, because a 3PCC leg joins exactly one callee.
 *
 *   calling ──1xx with tag──▶ early (n dialogs) ──first 2xx──▶ confirmed (1 dialog)
 *   calling / early ──non-2xx final (§12.3)──▶ rejected (all early dialogs terminated)
 */
import type { SipRequest, SipResponse } from '../message/index.js';
import type { DialogRegistry } from './dialog-registry.js';
import { DialogError } from './errors.js';
import type { Reliability } from './reliable-provisional.js';
import { SessionDialog, type BodyOptions, type DialogOptions, type OutgoingRequest } from './session-dialog.js';

export type InviteDialogSetState = 'calling' | 'early' | 'confirmed' | 'rejected';

export interface InviteDialogSetOptions extends DialogOptions {
  /** Dialogs created by the set are added to it, and the set itself for findInviteSet(). */
  registry?: DialogRegistry;
  /**
   * The answer for the ACK of an unwanted fork's 2xx that carried an offer (our INVITE had no
   * SDP). RFC 3261 §13.2.2.4 wants a valid answer before the BYE; an SDP rejecting every stream
   * (port 0) will do. Without it the ACK carries no body.
   */
  answerForUnwantedOffer?: (response: SipResponse) => BodyOptions | undefined;
}

/** What a response to the INVITE means for the set. */
export type InviteResponseOutcome =
  /** 100, or a 1xx without To tag: no dialog. */
  | { kind: 'trying' }
  /** A 1xx with a To tag: an early dialog, new or known. Discard it unless `reliability` is `unreliable` or `new`; PRACK it when `new`. */
  | { kind: 'early'; dialog: SessionDialog; created: boolean; reliability: Reliability }
  /** The first 2xx: `dialog` is confirmed (send dialog.createAck()); every other early dialog was ended. */
  | { kind: 'confirmed'; dialog: SessionDialog; terminated: SessionDialog[] }
  /** A 2xx already seen: re-send `ack` if it exists (RFC 3261 §13.2.2.4). */
  | { kind: 'retransmission'; dialog: SessionDialog; ack: OutgoingRequest | undefined }
  /** A 2xx from another fork after the first: send `ack` and then `bye` (RFC 3261 §13.2.2.4). */
  | { kind: 'unwanted'; dialog: SessionDialog; ack: OutgoingRequest; bye: OutgoingRequest }
  /** A non-2xx final response: the INVITE failed and its early dialogs ended (RFC 3261 §12.3). */
  | { kind: 'rejected'; status: number; terminated: SessionDialog[] }
  /** A response with nothing left to do: a 1xx after the final response, or from an ended fork. */
  | { kind: 'ignored' };

export class InviteDialogSet {
  readonly invite: SipRequest;
  readonly callId: string;
  readonly localTag: string;
  private currentState: InviteDialogSetState = 'calling';
  private readonly byRemoteTag = new Map<string, SessionDialog>();
  private confirmedDialog: SessionDialog | undefined;
  private readonly options: InviteDialogSetOptions;

  constructor(invite: SipRequest, options: InviteDialogSetOptions) {
    if (invite.method !== 'INVITE') throw new DialogError('BAD_METHOD', `a dialog set belongs to an INVITE, not ${invite.method}`);
    const localTag = invite.from.tag;
    if (localTag === undefined) throw new DialogError('NOT_DIALOG_CREATING', 'the INVITE has no From tag (RFC 3261 §8.1.1.3)');
    this.invite = invite;
    this.callId = invite.callId;
    this.localTag = localTag;
    this.options = options;
    options.registry?.addInviteSet(this);
  }

  get state(): InviteDialogSetState {
    return this.currentState;
  }

  /** The dialog the first 2xx confirmed. */
  get confirmed(): SessionDialog | undefined {
    return this.confirmedDialog;
  }

  /** Every dialog of the set, in creation order, whatever its state. */
  get dialogs(): SessionDialog[] {
    return [...this.byRemoteTag.values()];
  }

  get earlyDialogs(): SessionDialog[] {
    return this.dialogs.filter((d) => d.state === 'early');
  }

  dialogFor(remoteTag: string): SessionDialog | undefined {
    return this.byRemoteTag.get(remoteTag);
  }

  /** A response to our INVITE, from whichever fork. */
  receiveResponse(response: SipResponse): InviteResponseOutcome {
    const { seq, method } = response.cseq;
    if (response.callId !== this.callId || response.from.tag !== this.localTag || method !== 'INVITE' || seq !== this.invite.cseq.seq) {
      throw new DialogError('NOT_IN_DIALOG', 'the response does not answer this INVITE');
    }
    const status = response.status;
    const tag = response.to.tag;
    if (status < 200) {
      // RFC 3261 §12.1: only 101–199 with a To tag create (early) dialogs.
      if (status === 100 || tag === undefined) return { kind: 'trying' };
      return this.receiveProvisional(response, tag);
    }
    if (status < 300) return this.receiveSuccess(response, tag ?? '');
    return this.receiveFailure(response);
  }

  private receiveProvisional(response: SipResponse, tag: string): InviteResponseOutcome {
    const known = this.byRemoteTag.get(tag);
    if (known) {
      if (known.state !== 'early') return { kind: 'ignored' };
      const outcome = known.receiveResponse(response);
      return outcome.kind === 'provisional' ? { kind: 'early', dialog: known, created: false, reliability: outcome.reliability } : { kind: 'ignored' };
    }
    // After the final response no fork may start a new early dialog worth keeping.
    if (this.currentState === 'confirmed' || this.currentState === 'rejected') return { kind: 'ignored' };
    const { dialog, outcome } = SessionDialog.uac(this.invite, response, this.options);
    this.add(tag, dialog);
    this.currentState = 'early';
    return { kind: 'early', dialog, created: true, reliability: outcome.kind === 'provisional' ? outcome.reliability : 'unreliable' };
  }

  private receiveSuccess(response: SipResponse, tag: string): InviteResponseOutcome {
    let dialog = this.byRemoteTag.get(tag);
    if (dialog) {
      const outcome = dialog.receiveResponse(response);
      if (outcome.kind === 'retransmission') return { kind: 'retransmission', dialog, ack: outcome.ack };
      if (outcome.kind !== 'success') return { kind: 'ignored' };
    } else {
      dialog = SessionDialog.uac(this.invite, response, this.options).dialog;
      this.add(tag, dialog);
    }
    if (this.currentState !== 'confirmed' && this.currentState !== 'rejected' && dialog.state === 'confirmed') {
      this.confirmedDialog = dialog;
      this.currentState = 'confirmed';
      // The first answer wins the leg; the other forks' early dialogs end here (a 2xx they
      // send later comes back as `unwanted`).
      const terminated = this.earlyDialogs;
      for (const other of terminated) other.terminate();
      return { kind: 'confirmed', dialog, terminated };
    }
    // RFC 3261 §13.2.2.4: a 2xx from another fork is ACKed, then its dialog is ended with BYE.
    // A fork ended while early keeps its dialog object, so its CSeq numbering (a PRACK may have
    // used the next number) carries on into the BYE.
    const { ack, bye } = dialog.ackAndBye(response, this.options.answerForUnwantedOffer?.(response) ?? {});
    return { kind: 'unwanted', dialog, ack, bye };
  }

  private receiveFailure(response: SipResponse): InviteResponseOutcome {
    // A final response after a 2xx cannot come from the same transaction; ignore it.
    if (this.currentState === 'confirmed' || this.currentState === 'rejected') return { kind: 'ignored' };
    this.currentState = 'rejected';
    const terminated = this.earlyDialogs;
    // RFC 3261 §12.3: a non-2xx final response ends every early dialog of the request.
    for (const dialog of terminated) dialog.terminate();
    return { kind: 'rejected', status: response.status, terminated };
  }

  private add(tag: string, dialog: SessionDialog): void {
    this.byRemoteTag.set(tag, dialog);
    this.options.registry?.add(dialog);
  }
}
