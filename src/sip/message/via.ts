/** The Via header field (RFC 3261 §20.42, §18.2.1; RFC 3581 rport). */
import { SipParseError } from '../errors.js';
import { formatParams, isToken, parseBoundedInt, isTokenChar, parseParams, type Params } from '../grammar.js';
import { parseHostPort } from '../uri.js';

/** RFC 3261 §8.1.1.7: branches that start with this cookie are unique per transaction. */
export const BRANCH_COOKIE = 'z9hG4bK';

export class Via {
  constructor(
    /** Upper-case transport token: UDP, TCP, TLS, SCTP, WS… */
    public transport: string,
    public host: string,
    public port: number | undefined,
    public params: Params = new Map(),
    public protocol = 'SIP/2.0',
  ) {}

  get branch(): string | undefined {
    return this.params.get('branch') ?? undefined;
  }

  get received(): string | undefined {
    return this.params.get('received') ?? undefined;
  }

  /** RFC 3581: `true` when the bare `rport` asks for it, a number once it is filled in. */
  get rport(): number | true | undefined {
    if (!this.params.has('rport')) return undefined;
    const value = this.params.get('rport');
    if (value === null || value === undefined) return true;
    // A malformed value is treated as a request for rport: the source port is what counts.
    return parseBoundedInt(value, 65535) ?? true;
  }

  get maddr(): string | undefined {
    return this.params.get('maddr') ?? undefined;
  }

  /** True when the branch carries the RFC 3261 magic cookie. */
  get rfc3261(): boolean {
    const branch = this.branch;
    return branch !== undefined && branch.startsWith(BRANCH_COOKIE) && branch.length > BRANCH_COOKIE.length;
  }

  get sentBy(): string {
    return this.port === undefined ? this.host : `${this.host}:${this.port}`;
  }

  toString(): string {
    return `${this.protocol}/${this.transport} ${this.sentBy}${formatParams(this.params)}`;
  }
}

/**
 * Parses one via-parm. sent-protocol allows LWS around its slashes (RFC 3261 §25.1
 * SLASH = SWS "/" SWS), which real traffic never uses but RFC 4475 §3.1.1.1 does.
 */
export function parseVia(text: string): Via {
  const value = text.trim();
  const first = value.indexOf('/');
  const second = first < 0 ? -1 : value.indexOf('/', first + 1);
  if (second < 0) throw malformed('sent-protocol');
  const name = value.slice(0, first).trim();
  const version = value.slice(first + 1, second).trim();
  let i = second + 1;
  while (i < value.length && (value.charCodeAt(i) === 32 || value.charCodeAt(i) === 9)) i++;
  const transportStart = i;
  while (i < value.length && isTokenChar(value.charCodeAt(i))) i++;
  const transport = value.slice(transportStart, i);
  if (!isToken(name) || !isToken(version) || transport === '' || i >= value.length) throw malformed('sent-protocol');
  const afterTransport = i;
  while (i < value.length && (value.charCodeAt(i) === 32 || value.charCodeAt(i) === 9)) i++;
  if (i === afterTransport) throw malformed('sent-protocol');
  const semi = value.indexOf(';', i);
  let sentBy = semi >= 0 ? value.slice(i, semi).trimEnd() : value.slice(i);
  if (sentBy.includes(' ') || sentBy.includes('\t')) sentBy = sentBy.replace(/\s*:\s*/, ':');
  let hostPort;
  try {
    hostPort = parseHostPort(sentBy);
  } catch {
    throw malformed('sent-by');
  }
  const params = semi >= 0 ? parseParams(value.slice(semi)) : new Map<string, string | null>();
  if (!params) throw malformed('parameters');
  const protocol = name === 'SIP' && version === '2.0' ? 'SIP/2.0' : `${name}/${version}`.toUpperCase();
  return new Via(transport.toUpperCase(), hostPort.host, hostPort.port, params, protocol);
}

function malformed(what: string): SipParseError {
  return new SipParseError('BAD_HEADER_VALUE', `Via: malformed ${what}`, 'via');
}
