/**
 * The dialogs of a UA, by dialog ID (RFC 3261 §12), and the INVITEs of ours still collecting
 * forks, by Call-ID and local tag. The UA core asks it where a message goes.
 */
import type { SipRequest, SipResponse } from '../message/index.js';
import { dialogIdOf, dialogKey, type DialogId } from './dialog-id.js';
import { flatString } from '../grammar.js';
import { InviteDialogSet } from './invite-dialog-set.js';
import { createDialogDoesNotExist } from './responses.js';
import type { SessionDialog } from './session-dialog.js';

/** Where an incoming request goes. */
export type RequestMatch =
  /** It belongs to `dialog`: pass it to dialog.receiveRequest(). */
  | { kind: 'dialog'; dialog: SessionDialog }
  /** No To tag: a request outside any dialog (a new INVITE, an out-of-dialog OPTIONS). */
  | { kind: 'out-of-dialog' }
  /**
   * A To tag that matches no dialog (RFC 3261 §12.2.2): answer `response` (481), or, for an
   * ACK, which is never answered, drop it (`response` undefined).
   */
  | { kind: 'no-dialog'; response: SipResponse | undefined };

export class DialogRegistry {
  private readonly dialogs = new Map<string, SessionDialog>();
  private readonly inviteSets = new Map<string, InviteDialogSet>();
  /** The key each dialog and set was filed under (their IDs never change): made once, not per lookup. */
  private readonly keys = new WeakMap<SessionDialog | InviteDialogSet, string>();

  get size(): number {
    return this.dialogs.size;
  }

  add(dialog: SessionDialog): void {
    this.dialogs.set(this.keyOf(dialog), dialog);
  }

  /** Forgets a dialog (once terminated and its last transactions are over). */
  remove(dialog: SessionDialog): void {
    const key = this.keyOf(dialog);
    if (this.dialogs.get(key) === dialog) this.dialogs.delete(key);
  }

  private keyOf(entry: SessionDialog | InviteDialogSet): string {
    let key = this.keys.get(entry);
    if (key === undefined) {
      key = flatString(entry instanceof InviteDialogSet ? `${entry.callId}\n${entry.localTag}` : dialogKey(entry.id));
      this.keys.set(entry, key);
    }
    return key;
  }

  get(id: DialogId): SessionDialog | undefined {
    return this.dialogs.get(dialogKey(id));
  }

  /**
   * The dialog a message belongs to: for a request we received, Call-ID + To tag (ours) + From
   * tag (theirs); for a response to a request we sent, Call-ID + From tag + To tag. A response
   * from a fork not yet seen finds nothing: pass it to findInviteSet().
   */
  find(message: SipRequest | SipResponse): SessionDialog | undefined {
    const id = dialogIdOf(message);
    return id === undefined ? undefined : this.dialogs.get(dialogKey(id));
  }

  /** RFC 3261 §12.2: where an incoming request goes, with the 481 for an unknown dialog. */
  match(request: SipRequest): RequestMatch {
    if (request.to.tag === undefined) return { kind: 'out-of-dialog' };
    const dialog = this.find(request);
    if (dialog) return { kind: 'dialog', dialog };
    return { kind: 'no-dialog', response: request.method === 'ACK' ? undefined : createDialogDoesNotExist(request) };
  }

  addInviteSet(set: InviteDialogSet): void {
    this.inviteSets.set(this.keyOf(set), set);
  }

  /** Forgets an INVITE's set once its transaction is over (RFC 6026 Timer M: 64*T1 after the first 2xx). */
  removeInviteSet(set: InviteDialogSet): void {
    const key = this.keyOf(set);
    if (this.inviteSets.get(key) === set) this.inviteSets.delete(key);
  }

  /** The set of our INVITE that a response answers, whatever fork it comes from. */
  findInviteSet(response: SipResponse): InviteDialogSet | undefined {
    const tag = response.from.tag;
    if (tag === undefined || response.cseq.method !== 'INVITE') return undefined;
    const set = this.inviteSets.get(`${response.callId}\n${tag}`);
    return set !== undefined && set.invite.cseq.seq === response.cseq.seq ? set : undefined;
  }
}
