/**
 * A tiny authoritative DNS server for tests: UDP on 127.0.0.1, a free port, answering A, AAAA,
 * SRV and NAPTR from an in-memory zone. Wire format per RFC 1035 §4, AAAA per RFC 3596, SRV per
 * RFC 2782, NAPTR per RFC 3403 §4.1 (RFC 2915). Names not in the zone get NXDOMAIN; names in it
 * without records of the asked type get an empty NOERROR answer (NODATA).
 */
import { createSocket, type RemoteInfo } from 'node:dgram';
import { isIPv6 } from 'node:net';

export type ZoneRecord =
  | { type: 'A'; address: string; ttl?: number }
  | { type: 'AAAA'; address: string; ttl?: number }
  | { type: 'SRV'; priority: number; weight: number; port: number; target: string; ttl?: number }
  | {
      type: 'NAPTR';
      order: number;
      preference: number;
      flags: string;
      service: string;
      regexp?: string;
      replacement: string;
      ttl?: number;
    };

/** How a name misbehaves instead of answering: SERVFAIL, REFUSED, or no reply at all. */
export type ZoneFault = 'servfail' | 'refused' | 'timeout';

export interface Zone {
  /** Owner name (any case, no trailing dot) → its records. */
  records: Record<string, ZoneRecord[]>;
  faults?: Record<string, ZoneFault>;
}

export interface DnsQueryLog {
  name: string;
  type: string;
}

export interface TestDnsServer {
  /** `127.0.0.1:PORT`, as `Resolver.setServers()` takes it. */
  readonly server: string;
  readonly port: number;
  /** Every question asked so far, in order. */
  readonly queries: DnsQueryLog[];
  zone: Zone;
  close(): Promise<void>;
}

const TYPE_CODES = { A: 1, AAAA: 28, SRV: 33, NAPTR: 35 } as const;
const TYPE_NAMES = new Map<number, string>(Object.entries(TYPE_CODES).map(([name, code]) => [code, name]));
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
const DEFAULT_TTL = 300;

export async function startDnsServer(zone: Zone): Promise<TestDnsServer> {
  const socket = createSocket('udp4');
  const queries: DnsQueryLog[] = [];
  const state = { zone };
  socket.on('message', (message: Buffer, peer: RemoteInfo) => {
    const reply = answer(message, state.zone, queries);
    if (reply) socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const port = socket.address().port;
  return {
    server: `127.0.0.1:${port}`,
    port,
    queries,
    get zone() {
      return state.zone;
    },
    set zone(next: Zone) {
      state.zone = next;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

interface Question {
  name: string;
  type: number;
  /** The question section exactly as sent, echoed back in the reply. */
  raw: Buffer;
}

/** The reply to one query, or undefined to stay silent (malformed query, or a `timeout` fault). */
function answer(query: Buffer, zone: Zone, log: DnsQueryLog[]): Buffer | undefined {
  if (query.length < 12) return undefined;
  const id = query.readUInt16BE(0);
  const flags = query.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // a response, not a query
  const questionCount = query.readUInt16BE(4);
  const question = questionCount === 1 ? readQuestion(query, 12) : undefined;
  if (!question) return header(id, flags, RCODE.FORMERR, 0, 0);
  const name = question.name.toLowerCase();
  log.push({ name, type: TYPE_NAMES.get(question.type) ?? String(question.type) });

  const fault = Object.entries(zone.faults ?? {}).find(([owner]) => owner.toLowerCase() === name)?.[1];
  if (fault === 'timeout') return undefined;
  if (fault === 'servfail') return Buffer.concat([header(id, flags, RCODE.SERVFAIL, 1, 0), question.raw]);
  if (fault === 'refused') return Buffer.concat([header(id, flags, RCODE.REFUSED, 1, 0), question.raw]);

  const owner = Object.keys(zone.records).find((key) => key.toLowerCase() === name);
  if (owner === undefined) return Buffer.concat([header(id, flags, RCODE.NXDOMAIN, 1, 0), question.raw]);
  const matching = zone.records[owner]!.filter((record) => TYPE_CODES[record.type] === question.type);
  const answers = matching.map((record) => resourceRecord(record));
  return Buffer.concat([header(id, flags, RCODE.NOERROR, 1, answers.length), question.raw, ...answers]);
}

/** RFC 1035 §4.1.1: QR=1, the query's opcode and RD echoed, AA=1, RA=0. */
function header(id: number, queryFlags: number, rcode: number, questions: number, answers: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(id, 0);
  const opcode = queryFlags & 0x7800;
  const recursionDesired = queryFlags & 0x0100;
  out.writeUInt16BE(0x8000 | opcode | 0x0400 | recursionDesired | rcode, 2);
  out.writeUInt16BE(questions, 4);
  out.writeUInt16BE(answers, 6);
  return out;
}

/** RFC 1035 §4.1.2; queries carry no compression pointers, so none are followed. */
function readQuestion(message: Buffer, start: number): Question | undefined {
  const labels: string[] = [];
  let offset = start;
  for (;;) {
    if (offset >= message.length) return undefined;
    const length = message[offset]!;
    offset += 1;
    if (length === 0) break;
    if (length > 63 || offset + length > message.length) return undefined;
    labels.push(message.toString('latin1', offset, offset + length));
    offset += length;
  }
  if (offset + 4 > message.length) return undefined;
  const type = message.readUInt16BE(offset);
  offset += 4; // QTYPE, QCLASS
  return { name: labels.join('.'), type, raw: message.subarray(start, offset) };
}

/** RFC 1035 §4.1.4: a pointer to offset 12, where the question's name starts. */
const QUESTION_NAME_POINTER = Buffer.from([0xc0, 0x0c]);

/** RFC 1035 §4.1.3, the owner name compressed to the question's. */
function resourceRecord(record: ZoneRecord): Buffer {
  const data = recordData(record);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPE_CODES[record.type], 0);
  fixed.writeUInt16BE(1, 2); // class IN
  fixed.writeUInt32BE(record.ttl ?? DEFAULT_TTL, 4);
  fixed.writeUInt16BE(data.length, 8);
  return Buffer.concat([QUESTION_NAME_POINTER, fixed, data]);
}

function recordData(record: ZoneRecord): Buffer {
  switch (record.type) {
    case 'A':
      return Buffer.from(record.address.split('.').map(Number));
    case 'AAAA':
      return ipv6Bytes(record.address);
    case 'SRV': {
      // RFC 2782: priority, weight, port, then the target, never compressed.
      const fixed = Buffer.alloc(6);
      fixed.writeUInt16BE(record.priority, 0);
      fixed.writeUInt16BE(record.weight, 2);
      fixed.writeUInt16BE(record.port, 4);
      return Buffer.concat([fixed, encodeName(record.target)]);
    }
    case 'NAPTR': {
      // RFC 3403 §4.1: order, preference, three <character-string>s, then the replacement.
      const fixed = Buffer.alloc(4);
      fixed.writeUInt16BE(record.order, 0);
      fixed.writeUInt16BE(record.preference, 2);
      return Buffer.concat([
        fixed,
        characterString(record.flags),
        characterString(record.service),
        characterString(record.regexp ?? ''),
        encodeName(record.replacement),
      ]);
    }
  }
}

/** RFC 1035 §3.1: length-prefixed labels, ending with the root's empty label. "." is the root alone. */
function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter((label) => label !== '');
  return Buffer.concat([
    ...labels.map((label) => {
      const bytes = Buffer.from(label, 'latin1');
      if (bytes.length > 63) throw new RangeError(`label too long: ${label}`);
      return Buffer.concat([Buffer.from([bytes.length]), bytes]);
    }),
    Buffer.from([0]),
  ]);
}

/** RFC 1035 §3.3: one length byte, then up to 255 bytes. */
function characterString(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  if (bytes.length > 255) throw new RangeError('character-string too long');
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

/** RFC 4291 §2.2 text forms, "::" and an embedded dotted quad included, to 16 bytes. */
function ipv6Bytes(address: string): Buffer {
  if (!isIPv6(address)) throw new RangeError(`not an IPv6 address: ${address}`);
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, dotted.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailGroups];
  const out = Buffer.alloc(16);
  groups.forEach((group, i) => out.writeUInt16BE(parseInt(group, 16), i * 2));
  return out;
}
