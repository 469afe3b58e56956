/**
 * `npm run demo`: the whole product in one process, end to end. It starts the service with every
 * role (API, engine) on free loopback ports, its own PostgreSQL database (created and migrated)
 * and its own BullMQ queue prefix (so its calls never go to an `npm start` engine on the same
 * Redis, which would not find them in its database), two demo phones (alice and bob: our SIP
 * stack, answering by themselves), and then does what any API client does: POST /v1/calls with a
 * bootstrap API key, follows GET /v1/calls/{id}/events and prints each change, holds the call a
 * few seconds, hangs up with POST /v1/calls/{id}/hangup, and prints GET /v1/calls/{id}/sip as a
 * ladder diagram.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { loadConfig, type Config } from '../config.js';
import { startService, type RunningService } from '../main.js';
import { DemoPhone, type PhoneActivity } from './demo-phone.js';
import { renderLadder, type LadderLine } from './ladder.js';

export interface DemoOptions {
  /** Where the report goes, one line at a time. Default stdout. */
  print?: (line: string) => void;
  /** The environment to read DATABASE_URL, REDIS_URL and LOG_LEVEL from (validated by loadConfig). Default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** RFC 3725 flow: 3 (default), 1 or 4. */
  flow?: 1 | 3 | 4;
  /** How long the call stays connected before the hang-up. Default 3000 ms. */
  holdMs?: number;
  /** How long each phone rings. Default 600 ms. */
  ringMs?: number;
  /** The PostgreSQL database the demo uses (on the server of DATABASE_URL). Default click_to_dial_demo. */
  databaseName?: string;
  /** The BullMQ key prefix of its queues (QUEUE_PREFIX). Default ctd-demo. */
  queuePrefix?: string;
  /** Give up after this long. Default 30 s. */
  timeoutMs?: number;
}

export interface DemoResult {
  callId: string;
  /** The call's final status and end reason. */
  status: string;
  endReason: string | null;
  events: DemoEvent[];
  sipLog: LadderLine[];
  ladder: string;
  /** RTP packets each phone received (alice hears the ringback tone while bob rings). */
  rtpPackets: { alice: number; bob: number };
}

/** An event of GET /v1/calls/{id}/events, the fields the demo prints. */
export interface DemoEvent {
  sequence: number;
  type: string;
  leg: 'a' | 'b' | null;
  status: string | null;
  sip: { code: number; reason: string } | null;
  endReason: string | null;
  createdAt: string;
}

/** A failed demo: what went wrong, said plainly. */
export class DemoFailed extends Error {
  override readonly name = 'DemoFailed';
  readonly code = 'DEMO_FAILED';
}

const BOOTSTRAP_KEY = 'ctd_demo_bootstrap_key_0123456789';
const FINAL = new Set(['completed', 'failed', 'canceled']);
const POLL_MS = 100;

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const timeoutMs = options.timeoutMs ?? 30_000;
  const holdMs = options.holdMs ?? 3000;
  const config = demoConfig(options);
  const started = Date.now();
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(2).padStart(6)} s`;

  print(`click-to-dial demo: database ${new URL(config.databaseUrl).pathname.slice(1)}, queues ${config.queuePrefix} on ${config.redisUrl}`);
  let service: RunningService | undefined;
  const phones: DemoPhone[] = [];
  try {
    try {
      service = await startService(config, pino({ level: config.logLevel }));
    } catch (error) {
      throw new DemoFailed(`cannot start the service: ${(error as Error).message} (is PostgreSQL running at ${redact(config.databaseUrl)} and Redis at ${config.redisUrl}? scripts/ensure-services.sh starts them)`, { cause: error });
    }
    const baseUrl = `http://127.0.0.1:${service.http!.port}`;
    print(`${elapsed()}  service up: API ${baseUrl}, SIP engine udp+tcp 127.0.0.1:${service.sip!.port}`);

    const onActivity = (activity: PhoneActivity): void => print(`${elapsed()}    [${activity.phone}] ${describeActivity(activity)}`);
    const ringMs = options.ringMs ?? 600;
    const alice = await DemoPhone.start({ name: 'alice', ringMs, onActivity });
    phones.push(alice);
    const bob = await DemoPhone.start({ name: 'bob', ringMs, onActivity });
    phones.push(bob);
    print(`${elapsed()}  phones up: alice ${alice.uri}, bob ${bob.uri} (they ring ${ringMs} ms, then answer)`);

    const api = apiClient(baseUrl, BOOTSTRAP_KEY);
    const flow = options.flow ?? 3;
    const body = { a: { uri: alice.uri }, b: { uri: bob.uri }, flow, ringback: 'tone', callerId: 'sip:demo@click-to-dial.invalid', metadata: { demo: 'npm run demo' } };
    const created = await api('POST', '/v1/calls', body, { 'idempotency-key': `demo-${randomBytes(8).toString('hex')}` });
    if (created.status !== 202) throw new DemoFailed(`POST /v1/calls answered ${created.status}: ${JSON.stringify(created.body)}`);
    const callId = String(created.body.id);
    print(`${elapsed()}  POST /v1/calls → 202 ${callId} (flow ${flow}, a: alice, b: bob)`);

    // Follow the events until the call ends; hang up once it has been connected for holdMs.
    const events: DemoEvent[] = [];
    const deadline = Date.now() + timeoutMs;
    let connectedAt: number | undefined;
    let hungUp = false;
    let final: DemoEvent | undefined;
    while (final === undefined) {
      if (Date.now() > deadline) throw new DemoFailed(`the call did not end within ${timeoutMs} ms; events so far: ${events.map((e) => e.type).join(', ') || 'none'}${events.every((e) => e.type === 'call.queued') ? ' (no engine took it: is another demo using the same queue prefix on this Redis?)' : ''}`);
      const listed = await api('GET', `/v1/calls/${callId}/events`);
      if (listed.status !== 200) throw new DemoFailed(`GET /v1/calls/${callId}/events answered ${listed.status}: ${JSON.stringify(listed.body)}`);
      for (const event of listed.body.data as DemoEvent[]) {
        if (event.sequence <= (events.at(-1)?.sequence ?? 0)) continue;
        events.push(event);
        print(`${elapsed()}  event ${String(event.sequence).padStart(2)}  ${describeEvent(event)}`);
        if (event.type === 'call.connected') {
          connectedAt = Date.now();
          print(`${elapsed()}  connected: holding the call ${(holdMs / 1000).toFixed(1)} s`);
        }
        if (event.leg === null && event.status !== null && FINAL.has(event.status)) final = event;
      }
      if (final) break;
      if (connectedAt !== undefined && !hungUp && Date.now() - connectedAt >= holdMs) {
        hungUp = true;
        print(`${elapsed()}  POST /v1/calls/${callId}/hangup`);
        const hangup = await api('POST', `/v1/calls/${callId}/hangup`);
        print(`${elapsed()}  hangup → ${hangup.status}`);
        if (hangup.status >= 300) throw new DemoFailed(`the hang-up was refused: ${JSON.stringify(hangup.body)}`);
      }
      await sleep(POLL_MS);
    }
    if (final.status !== 'completed') {
      throw new DemoFailed(`the call ended ${final.status}${final.endReason ? ` (${final.endReason})` : ''} instead of completed`);
    }

    // The SIP log is written behind the events: wait until both BYEs have their 200.
    const sipLog = await completeSipLog(api, callId, Math.min(5000, Math.max(0, deadline - Date.now())));
    const ladder = renderLadder(sipLog);
    print('');
    print(`SIP ladder of ${callId} (GET /v1/calls/${callId}/sip):`);
    print('');
    for (const line of ladder.split('\n')) print(line);
    print('');
    const rtpPackets = { alice: alice.rtpPacketsReceived, bob: bob.rtpPacketsReceived };
    const ringback = rtpPackets.alice > 0 ? ": alice heard the controller's ringback tone while bob rang" : '';
    print(`RTP packets received: alice ${rtpPackets.alice}, bob ${rtpPackets.bob}${ringback} (the demo phones themselves send none).`);
    print(`done: ${callId} ${final.status} (${final.endReason ?? 'no end reason'}) in ${elapsed().trim()}`);
    return { callId, status: final.status, endReason: final.endReason, events, sipLog, ladder, rtpPackets };
  } finally {
    for (const phone of phones) await phone.stop().catch(() => undefined);
    await service?.stop(0).catch(() => undefined);
  }
}

/** The service's configuration for the demo: the user's DATABASE_URL server and REDIS_URL, with the demo's own database and queue prefix, every other setting fixed. */
function demoConfig(options: DemoOptions): Config {
  const env = options.env ?? process.env;
  const base = loadConfig({ DATABASE_URL: env.DATABASE_URL, REDIS_URL: env.REDIS_URL, LOG_LEVEL: env.LOG_LEVEL ?? 'warn' });
  const database = new URL(base.databaseUrl);
  database.pathname = `/${options.databaseName ?? 'click_to_dial_demo'}`;
  return loadConfig({
    DATABASE_URL: database.toString(),
    REDIS_URL: base.redisUrl,
    QUEUE_PREFIX: options.queuePrefix ?? 'ctd-demo',
    LOG_LEVEL: base.logLevel,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    SIP_HOST: '127.0.0.1',
    SIP_PORT: '0',
    BOOTSTRAP_API_KEY: BOOTSTRAP_KEY,
    // Trunk passwords are not used by the demo; a fresh key avoids writing a key file.
    SECRETS_KEY: randomBytes(32).toString('hex'),
    ENGINE_ID: `demo-${process.pid}`,
    DRAIN_MS: '0',
  });
}

type Api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; body: Record<string, unknown> }>;

function apiClient(baseUrl: string, key: string): Api {
  return async (method, path, body, headers = {}) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
}

/** GET /v1/calls/{id}/sip until each leg's BYE has its final response (or `waitMs` has passed). */
async function completeSipLog(api: Api, callId: string, waitMs: number): Promise<LadderLine[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const response = await api('GET', `/v1/calls/${callId}/sip`);
    if (response.status !== 200) throw new DemoFailed(`GET /v1/calls/${callId}/sip answered ${response.status}: ${JSON.stringify(response.body)}`);
    const lines = response.body.data as LadderLine[];
    const byeAnswered = (leg: 'a' | 'b'): boolean => lines.some((l) => l.leg === leg && /^2\d\d .*\(\d+ BYE\)$/.test(l.line));
    if ((byeAnswered('a') && byeAnswered('b')) || Date.now() > deadline) return lines;
    await sleep(POLL_MS);
  }
}

function describeEvent(event: DemoEvent): string {
  const who = event.leg === null ? 'call' : `leg ${event.leg} (${event.leg === 'a' ? 'alice' : 'bob'})`;
  const sip = event.sip ? ` — SIP ${event.sip.code} ${event.sip.reason}` : '';
  const reason = event.endReason ? ` — endReason ${event.endReason}` : '';
  return `${event.type.padEnd(18)} ${who}: ${event.status ?? ''}${sip}${reason}`;
}

function describeActivity(activity: PhoneActivity): string {
  const media = activity.media;
  const where = media?.remote ? ` → RTP to ${media.remote.address}:${media.remote.port}` : '';
  const mediaText = media ? ` [${media.codec ?? 'no media'}${media.direction ? `, ${media.direction}` : ''}${where}]` : '';
  switch (activity.kind) {
    case 'ringing':
      return `rings (call from ${activity.detail ?? '?'}), 180 Ringing`;
    case 'answered':
      return `answers: 200 OK, ${activity.detail ?? ''}${mediaText}`;
    case 'connected':
      return `ACK received: connected${mediaText}`;
    case 'media-changed':
      return `session changed by the controller${mediaText}`;
    case 'hung-up':
      return `call over (${activity.detail ?? ''})`;
    case 'canceled':
      return `call given up (${activity.detail ?? ''})`;
    case 'error':
      return `error: ${activity.detail ?? ''}`;
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
