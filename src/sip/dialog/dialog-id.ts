/**
 * The dialog ID (RFC 3261 §12): Call-ID, local tag and remote tag, always from our point of
 * view. Which tag of a message is ours depends on who sent it: in a request we receive our tag
 * is in To (§12.2.2); in a response to a request we sent it is in From (§12.2.1.2).
 */
import type { SipRequest, SipResponse } from '../message/index.js';

export interface DialogId {
  readonly callId: string;
  readonly localTag: string;
  /** Empty when the peer sent no tag (RFC 2543 peers, RFC 3261 §12.1.2). */
  readonly remoteTag: string;
}

/** A map key for a dialog ID. Call-IDs hold no whitespace and tags are tokens, so "\n" is safe. */
export function dialogKey(id: DialogId): string {
  return `${id.callId}\n${id.localTag}\n${id.remoteTag}`;
}

export function sameDialogId(a: DialogId, b: DialogId): boolean {
  return a.callId === b.callId && a.localTag === b.localTag && a.remoteTag === b.remoteTag;
}

/**
 * The dialog ID a message names, from our side: for a request we received, local = To tag and
 * remote = From tag; for a response to a request we sent, local = From tag and remote = To tag.
 * Undefined when our tag is missing (a request outside any dialog).
 */
export function dialogIdOf(message: SipRequest | SipResponse): DialogId | undefined {
  const local = message.isRequest ? message.to.tag : message.from.tag;
  if (local === undefined) return undefined;
  const remote = message.isRequest ? message.from.tag : message.to.tag;
  return { callId: message.callId, localTag: local, remoteTag: remote ?? '' };
}
