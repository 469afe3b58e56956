/**
 * Where a party of a call request goes on the wire (pure): a `sip:`/`sips:` URI as given; a
 * `tel:` URI or an E.164 number through a trunk, as `sip:<number>@<trunk host>` with the number in
 * the trunk's format; and the From each leg presents (its caller ID).
 */
import { ApiProblem } from './problem.js';

export interface TrunkForParty {
  id: string;
  host: string;
  port: number | null;
  transport: 'udp' | 'tcp' | 'tls';
  fromDomain: string | null;
  numberFormat: 'e164' | 'national' | 'as-is';
}

export interface ResolvedParty {
  /** The Request-URI and To, as a name-addr. */
  uri: string;
  /** The trunk this leg goes through (its credentials answer challenges), when it does. */
  trunkId: string | undefined;
}

function isNumber(uri: string): boolean {
  return uri.startsWith('+') || uri.startsWith('tel:');
}

/** The digits of an E.164 number or a tel: URI (visual separators removed, RFC 3966 §5.1.1). */
export function numberOf(uri: string): string {
  const text = uri.startsWith('tel:') ? uri.slice(4).split(';')[0]! : uri;
  return text.replace(/[-.()]/g, '');
}

function formatNumber(number: string, format: TrunkForParty['numberFormat']): string {
  if (format === 'as-is') return number;
  if (format === 'national') return number.replace(/^\+/, '');
  return number.startsWith('+') ? number : `+${number}`;
}

function hostPort(trunk: TrunkForParty): string {
  const host = trunk.host.includes(':') && !trunk.host.startsWith('[') ? `[${trunk.host}]` : trunk.host;
  return trunk.port ? `${host}:${trunk.port}` : host;
}

function trunkUri(user: string, trunk: TrunkForParty): string {
  const scheme = trunk.transport === 'tls' ? 'sips' : 'sip';
  const transport = trunk.transport === 'udp' ? '' : `;transport=${trunk.transport}`;
  return `<${scheme}:${user}@${hostPort(trunk)}${transport}>`;
}

/** `field` is the JSON pointer named in the problem when the party cannot be reached (`/a/uri`). */
export function resolveParty(uri: string, trunk: TrunkForParty | undefined, field: string): ResolvedParty {
  if (!isNumber(uri)) return { uri: `<${uri}>`, trunkId: trunk?.id };
  if (!trunk) {
    throw new ApiProblem('validation_failed', {
      detail: `${uri} is a phone number: it needs a trunk, and the account has no default trunk. Create one with POST /v1/trunks, or name it in \`trunk\`.`,
      errors: [{ field, message: 'a phone number needs a trunk' }],
    });
  }
  return { uri: trunkUri(formatNumber(numberOf(uri), trunk.numberFormat), trunk), trunkId: trunk.id };
}

/** The From of a leg: its caller ID as a SIP URI (a number at the trunk's from-domain), or ours. */
export function fromHeader(callerId: string | undefined, trunk: TrunkForParty | undefined, ourHost: string): string {
  const domain = trunk?.fromDomain ?? trunk?.host ?? ourHost;
  if (callerId === undefined) return `<sip:anonymous@${domain}>`;
  if (!isNumber(callerId)) return `<${callerId}>`;
  const number = formatNumber(numberOf(callerId), trunk?.numberFormat ?? 'e164');
  return `<sip:${number}@${domain}>`;
}
