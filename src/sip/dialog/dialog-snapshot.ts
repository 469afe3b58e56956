/**
 * The serialisable state of a dialog (RFC 3261 §12: Call-ID, tags, URIs, sequence numbers,
 * route set, remote target, secure flag), enough for another process to rebuild the dialog from
 * a database after a crash and end the call with a BYE. Everything is a string, number, boolean
 * or null, so it survives JSON unchanged.
 */
import { MAX_CSEQ, NameAddr, parseNameAddr } from '../message/index.js';
import { parseUri, SipUri, type Uri } from '../uri.js';
import { DialogError } from './errors.js';

export type DialogState = 'early' | 'confirmed' | 'terminated';
/** Which end sent the dialog-creating INVITE: `uac` means we did, so we own the Call-ID. */
export type DialogRole = 'uac' | 'uas';

export interface DialogSnapshot {
  version: 1;
  role: DialogRole;
  state: DialogState;
  callId: string;
  localTag: string;
  remoteTag: string;
  localUri: string;
  localDisplayName: string | null;
  remoteUri: string;
  remoteDisplayName: string | null;
  localCSeq: number | null;
  remoteCSeq: number | null;
  /** Route header values, in the order they are sent. */
  routeSet: string[];
  remoteTarget: string;
  localContact: string;
  secure: boolean;
}

/** A snapshot's fields, parsed back into URIs and name-addrs. */
export interface RestoredDialogFields {
  role: DialogRole;
  state: DialogState;
  callId: string;
  localTag: string;
  remoteTag: string;
  local: NameAddr;
  remote: NameAddr;
  localCSeq: number | undefined;
  remoteCSeq: number | undefined;
  routeSet: NameAddr[];
  remoteTarget: SipUri;
  localContact: NameAddr;
  secure: boolean;
}

/** Validates a snapshot read from storage; throws DialogError('BAD_SNAPSHOT') naming the first bad field. */
export function readSnapshot(value: unknown): RestoredDialogFields {
  if (typeof value !== 'object' || value === null) throw bad('snapshot', 'not an object');
  const s = value as Record<string, unknown>;
  if (s.version !== 1) throw bad('version', 'unsupported');
  const role = oneOf(s, 'role', ['uac', 'uas'] as const);
  const state = oneOf(s, 'state', ['early', 'confirmed', 'terminated'] as const);
  const callId = text(s, 'callId');
  if (callId === '' || /\s/.test(callId)) throw bad('callId', 'empty or holds whitespace');
  const localTag = text(s, 'localTag');
  if (localTag === '') throw bad('localTag', 'empty');
  const remoteTag = text(s, 'remoteTag');
  const routeSet = s.routeSet;
  if (!Array.isArray(routeSet)) throw bad('routeSet', 'not an array');
  const routes = routeSet.map((route: unknown, i) => {
    if (typeof route !== 'string') throw bad(`routeSet[${i}]`, 'not a string');
    const parsed = attempt(`routeSet[${i}]`, () => parseNameAddr(route, 'route'));
    if (!(parsed.uri instanceof SipUri)) throw bad(`routeSet[${i}]`, 'not a sip: or sips: URI');
    return parsed;
  });
  const remoteTarget = attempt('remoteTarget', () => parseUri(text(s, 'remoteTarget')));
  if (!(remoteTarget instanceof SipUri)) throw bad('remoteTarget', 'not a sip: or sips: URI');
  if (typeof s.secure !== 'boolean') throw bad('secure', 'not a boolean');
  return {
    role,
    state,
    callId,
    localTag,
    remoteTag,
    local: identity(s, 'localUri', 'localDisplayName'),
    remote: identity(s, 'remoteUri', 'remoteDisplayName'),
    localCSeq: sequence(s, 'localCSeq'),
    remoteCSeq: sequence(s, 'remoteCSeq'),
    routeSet: routes,
    remoteTarget,
    localContact: attempt('localContact', () => parseNameAddr(text(s, 'localContact'), 'contact')),
    secure: s.secure,
  };
}

function bad(field: string, why: string): DialogError {
  return new DialogError('BAD_SNAPSHOT', `dialog snapshot: ${field}: ${why}`);
}

function text(s: Record<string, unknown>, field: string): string {
  const value = s[field];
  if (typeof value !== 'string') throw bad(field, 'not a string');
  return value;
}

function oneOf<T extends string>(s: Record<string, unknown>, field: string, allowed: readonly T[]): T {
  const value = s[field];
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) throw bad(field, `not one of ${allowed.join(', ')}`);
  return value as T;
}

function sequence(s: Record<string, unknown>, field: string): number | undefined {
  const value = s[field];
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_CSEQ) throw bad(field, 'not a CSeq number');
  return value;
}

function identity(s: Record<string, unknown>, uriField: string, nameField: string): NameAddr {
  const uri: Uri = attempt(uriField, () => parseUri(text(s, uriField)));
  const name = s[nameField];
  if (name !== null && name !== undefined && typeof name !== 'string') throw bad(nameField, 'not a string');
  return new NameAddr(uri, name ?? undefined);
}

function attempt<T>(field: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof DialogError) throw error;
    throw bad(field, (error as Error).message);
  }
}
