/**
 * Set-up and readers shared by the engine's failure-matrix wire tests (failures, hang-ups,
 * re-INVITEs): one block of ports per test, SIPp parties A and B, an engine, and what each side
 * saw. Not a test file itself.
 *
 * Port block (10 ports from freePortBlock): +0 the engine, +1 party A, +2 party B, +3 a port
 * where nothing listens (for "unreachable"), +4/+6 A's media, +7/+9 B's media.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CallEvent, CallRequest, CallStatus, EndReason, LegName, LegTarget, SipCause } from '../../src/engine/index.js';
import { freePortBlock } from '../support/ports.js';
import { parseSippMessages, sharedScenario, startSippUas, type SippTracedMessage, type SippTransport, type SippUasHandle } from '../support/sipp.js';
import { startEngine, type EngineUnderTest } from './harness.js';

export const TRANSPORTS: readonly SippTransport[] = ['udp', 'tcp'];

const ENGINE = 0;
const PARTY_A = 1;
const PARTY_B = 2;
const NOBODY = 3;
const MEDIA_A = 4;
const MEDIA_B = 7;

/** One of our scenarios, under test/peers/sipp/. */
export function ours(name: string): string {
  return fileURLToPath(new URL(`../peers/sipp/${name}.xml`, import.meta.url));
}

/** One of the shared scenarios (../shared/sip-peers/scenarios), SDP fixed. */
export function shared(name: string): string {
  return sharedScenario(name);
}

export interface Party {
  scenario: string;
  vars?: Record<string, string | number>;
  /** -key NAME VALUE; a function gets the SIP ports of A, B, the engine and nobody (e.g. for redirect targets). */
  keys?: Record<string, string> | ((ports: { a: number; b: number; engine: number; nobody: number }) => Record<string, string>);
}

export interface WireCall {
  under: EngineUnderTest;
  transport: SippTransport;
  a: SippUasHandle | undefined;
  b: SippUasHandle | undefined;
  /** SIPp's -mp for A and B: the m= port of their SDP. */
  mediaA: number;
  mediaB: number;
  /** A URI on 127.0.0.1 where nothing listens, for this transport. */
  nowhere(user: string): string;
  /** A request for the call with A and B at the SIPp parties (or nowhere, without one). */
  request(id: string, extra?: { a?: Partial<LegTarget>; b?: Partial<LegTarget> } & Omit<Partial<CallRequest>, 'a' | 'b' | 'id'>): CallRequest;
}

export async function setUpCall(t: TestContext, transport: SippTransport, parties: { a?: Party; b?: Party }): Promise<WireCall> {
  const base = await freePortBlock(10);
  const start = (party: Party | undefined, port: number, mediaPort: number): Promise<SippUasHandle | undefined> =>
    party
      ? startSippUas(t, {
          scenario: party.scenario,
          port,
          mediaPort,
          transport,
          timeoutSeconds: 25,
          ...(party.vars ? { vars: party.vars } : {}),
          ...(party.keys ? { keys: typeof party.keys === 'function' ? party.keys({ a: base + PARTY_A, b: base + PARTY_B, engine: base + ENGINE, nobody: base + NOBODY }) : party.keys } : {}),
        })
      : Promise.resolve(undefined);
  const a = await start(parties.a, base + PARTY_A, base + MEDIA_A);
  const b = await start(parties.b, base + PARTY_B, base + MEDIA_B);
  const under = await startEngine(t, base + ENGINE);
  // (startSippUas lets SIPp settle after binding: see test/support/sipp.ts.)
  const nowhere = (user: string): string => `sip:${user}@127.0.0.1:${base + NOBODY}${transport === 'tcp' ? ';transport=tcp' : ''}`;
  return {
    under,
    transport,
    a,
    b,
    mediaA: base + MEDIA_A,
    mediaB: base + MEDIA_B,
    nowhere,
    request: (id, extra = {}) => {
      const { a: legA, b: legB, ...rest } = extra;
      return {
        id,
        a: { uri: `<${a ? a.uri('alice') : nowhere('alice')}>`, from: '<sip:ctd@127.0.0.1>', ...legA },
        b: { uri: `<${b ? b.uri('bob') : nowhere('bob')}>`, from: '"Alice" <sip:alice@example.com>', ...legB },
        ...rest,
      };
    },
  };
}

/**
 * Waits for a SIPp party to finish its one call by itself and asserts it succeeded (exit 0: its
 * scenario saw what it expects); returns the messages it received.
 */
export async function partyDone(party: SippUasHandle | undefined, name: string, timeoutMs = 15_000): Promise<SippTracedMessage[]> {
  assert.ok(party, `party ${name} was started`);
  const exit = await party.wait(timeoutMs);
  assert.equal(exit.code, 0, `party ${name}'s scenario should succeed\n${await party.report()}`);
  return parseSippMessages(await party.messages()).filter((m) => m.direction === 'received');
}

/** `a:calling`, `a:ringing 180`, `b:failed 486`… for a call, in order. */
export function legTrace(under: EngineUnderTest, id: string): string[] {
  return under.events
    .filter((e) => e.callId === id)
    .flatMap((e) => (e.type === 'leg.status' ? [`${e.leg}:${e.status}${e.sip ? ` ${e.sip.code}` : ''}`] : []));
}

export interface ExpectedEnd {
  status: CallStatus;
  endReason: EndReason;
  failedLeg?: LegName;
  sip?: SipCause;
  /** Call statuses in order, the final one included. */
  statuses: CallStatus[];
  /** legTrace(), exactly. */
  legs: string[];
}

/** The end of the call as its events tell it: final status, reason, failed leg, SIP cause, every status in order. */
export function assertCallEnd(under: EngineUnderTest, id: string, expected: ExpectedEnd): void {
  const finals = under.events.filter(
    (e): e is CallEvent & { type: 'call.status' } => e.callId === id && e.type === 'call.status' && ['completed', 'failed', 'canceled'].includes(e.status),
  );
  assert.equal(finals.length, 1, 'exactly one final call status');
  const final = finals[0]!;
  assert.deepEqual(
    { status: final.status, endReason: final.endReason, failedLeg: final.failedLeg, sip: final.sip },
    { status: expected.status, endReason: expected.endReason, failedLeg: expected.failedLeg, sip: expected.sip },
    'the final call status',
  );
  assert.deepEqual(under.statuses(id), expected.statuses, 'call statuses in order');
  assert.deepEqual(legTrace(under, id), expected.legs, 'leg statuses in order');
  const seqs = under.events.filter((e) => e.callId === id).map((e) => e.seq);
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'events are numbered 1, 2, 3… per call');
}

/** The value of a header field of a traced message (first occurrence), case-insensitive name. */
export function header(message: SippTracedMessage | undefined, name: string): string | undefined {
  if (!message) return undefined;
  const head = message.text.split('\r\n\r\n', 1)[0] ?? '';
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === name.toLowerCase()) return line.slice(colon + 1).trim();
  }
  return undefined;
}

export function body(message: SippTracedMessage | undefined): string {
  if (!message) return '';
  const at = message.text.indexOf('\r\n\r\n');
  return at < 0 ? '' : message.text.slice(at + 4);
}

/** Received requests of one method. */
export function requests(messages: readonly SippTracedMessage[], method: string): SippTracedMessage[] {
  return messages.filter((m) => m.method === method);
}

/** Received responses with a status, for a CSeq method. */
export function responses(messages: readonly SippTracedMessage[], status: number, method: string): SippTracedMessage[] {
  return messages.filter((m) => m.status === status && new RegExp(`^\\d+\\s+${method}$`, 'i').test(header(m, 'CSeq') ?? ''));
}

/** SIPp's trace timestamp ("2026-12-01 07:22:28.311746") in ms since the epoch (local time). */
export function tracedAt(message: SippTracedMessage): number {
  const [date, time] = message.at.split(' ');
  return new Date(`${date}T${time!.slice(0, 12)}`).getTime();
}

/** The RFC 3326 Reason header the BYE to A must carry when leg b's failure ended the call. */
export function reasonFor(sip: SipCause): string {
  return `SIP;cause=${sip.code};text="${sip.reason}"`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves once legTrace() of the call holds `entry` (e.g. `b:ringing 180`); rejects after `timeoutMs`. */
export async function legReached(under: EngineUnderTest, id: string, entry: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!legTrace(under, id).includes(entry)) {
    if (Date.now() > deadline) assert.fail(`no ${entry} within ${timeoutMs} ms: ${legTrace(under, id).join(', ')}`);
    await sleep(10);
  }
}

/**
 * The methods of the distinct requests a party received, in order: a retransmission (same start
 * line, CSeq and top Via branch; over UDP the engine's T1 is 50 ms) is counted once.
 */
export function methods(messages: readonly SippTracedMessage[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const message of messages) {
    if (message.method === null) continue;
    const key = [message.text.split('\r\n', 1)[0], header(message, 'CSeq'), /branch=([^;,\s]+)/i.exec(header(message, 'Via') ?? '')?.[1]].join('\n');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(message.method);
  }
  return out;
}
