/** The Via header field (RFC 3261 §20.42, §18.2.1; RFC 3581 rport). */
import { SipParseError } from '../errors.js';
import { formatParams, parseParams, type Params } from '../grammar.js';
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
    return value === null || value === undefined ? true : Number(value);
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

// sent-protocol with LWS allowed around the slashes (RFC 3261 §25.1 SLASH = SWS "/" SWS).
const SENT_PROTOCOL_RE = /^([A-Za-z0-9\-.!%*_+`'~]+)\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+/;

export function parseVia(text: string): Via {
  const value = text.trim();
  const match = SENT_PROTOCOL_RE.exec(value);
  if (!match) throw new SipParseError('BAD_HEADER_VALUE', 'Via: malformed sent-protocol', 'via');
  const rest = value.slice(match[0].length);
  const semi = rest.indexOf(';');
  const sentBy = (semi >= 0 ? rest.slice(0, semi) : rest).trim().replace(/\s*:\s*/, ':');
  let hostPort;
  try {
    hostPort = parseHostPort(sentBy);
  } catch {
    throw new SipParseError('BAD_HEADER_VALUE', 'Via: malformed sent-by', 'via');
  }
  const params = parseParams(semi >= 0 ? rest.slice(semi) : '');
  if (!params) throw new SipParseError('BAD_HEADER_VALUE', 'Via: malformed parameters', 'via');
  return new Via(match[3]!.toUpperCase(), hostPort.host, hostPort.port, params, `${match[1]}/${match[2]}`.toUpperCase());
}
