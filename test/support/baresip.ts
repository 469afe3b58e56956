/**
 * baresip (Debian baresip-core 1.0.0) as a real, headless, auto-answering phone for tests: it binds
 * UDP and TCP on 127.0.0.1:PORT (and, unavoidably, TLS on TCP PORT+1), answers every INVITE with
 * 200 (an SDP offer when the INVITE had none, RFC 3725 Flow III), accepts re-INVITEs and BYE, and
 * optionally registers with a registrar. The configuration lives in test/peers/baresip/.
 *
 * baresip runs with `-t lifetimeSeconds` so it ends by itself even if the test process dies; stop()
 * ends it earlier (SIGTERM, then SIGKILL after 3 s). It always runs with SIP tracing (`-s`) so tests
 * can see what it sent: sipMessages().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type SipTransportName = 'udp' | 'tcp';

export interface BaresipOptions {
  /** SIP user part, e.g. "alice". */
  user: string;
  /** UDP and TCP port on 127.0.0.1. baresip also binds TCP port + 1 (TLS). */
  port: number;
  /** Transport for requests baresip originates (REGISTER, BYE); it listens on both anyway. */
  transport?: SipTransportName;
  /** Register the AOR sip:user@host:port with this registrar (e.g. Kamailio). */
  registrar?: {
    host: string;
    port: number;
    /** Digest password (RFC 3261 §22.4); the digest username is `user`. */
    password?: string;
    /** Registration interval in seconds (baresip's regint); default 60. */
    regint?: number;
  };
  /** baresip quits by itself after this many seconds (`-t`); default 120. */
  lifetimeSeconds?: number;
  /** How long to wait for "ready" (and the registration's 200); default 5000 ms. */
  startTimeoutMs?: number;
}

export interface PeerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One SIP message from baresip's trace (`-s`). */
export interface BaresipTracedMessage {
  /** 'sent' by baresip or 'received' by it (decided by its User-Agent/Server header). */
  direction: 'sent' | 'received';
  transport: string;
  source: string;
  destination: string;
  /** Request method ("INVITE") or response status code ("200"). */
  method: string | null;
  status: number | null;
  /** The whole message as traced. */
  text: string;
}

export interface BaresipHandle {
  readonly pid: number;
  /** Where to send requests to reach the phone directly: sip:user@127.0.0.1:port[;transport=tcp]. */
  readonly uri: string;
  /** The registered address of record (sip:user@registrar[;transport=tcp]), or `uri` without one. */
  readonly aor: string;
  readonly configDir: string;
  /** Resolves when the process has ended (by itself or by stop()). */
  readonly exited: Promise<PeerExit>;
  /** Everything baresip printed so far (stdout and stderr, colours removed). */
  log(): string;
  /** SIP messages traced so far, in order. */
  sipMessages(): BaresipTracedMessage[];
  /** SIGTERM (baresip unregisters and hangs up its calls), SIGKILL after 3 s; removes configDir. */
  stop(): Promise<void>;
}

const CONFIG_TEMPLATE = fileURLToPath(new URL('../peers/baresip/config.template', import.meta.url));
const HOST = '127.0.0.1';
const STOP_GRACE_MS = 3000;
/** Characters that cannot break the accounts line (`;`, `>`, `"` and spaces would). */
const SAFE_TOKEN = /^[A-Za-z0-9._~!*+-]+$/;
const ANSI_ESCAPE = /\x1b\[[0-9;]*m/g;

/** Processes still running, with their folders: killed and removed if the test process exits first. */
const running = new Map<ChildProcess, string>();
process.once('exit', () => {
  for (const [child, folder] of running) {
    child.kill('SIGKILL');
    rmSync(folder, { recursive: true, force: true });
  }
});

export async function startBaresip(options: BaresipOptions): Promise<BaresipHandle> {
  const transport = options.transport ?? 'udp';
  const lifetimeSeconds = options.lifetimeSeconds ?? 120;
  const startTimeoutMs = options.startTimeoutMs ?? 5000;
  checkToken('user', options.user);
  if (options.registrar?.password !== undefined) checkToken('password', options.registrar.password);
  if (!Number.isInteger(options.port) || options.port <= 0 || options.port >= 65535) {
    throw new RangeError(`baresip port must leave port + 1 free for TLS: ${options.port}`);
  }

  const transportParam = transport === 'tcp' ? ';transport=tcp' : '';
  const uri = `sip:${options.user}@${HOST}:${options.port}${transportParam}`;
  const registrar = options.registrar;
  const aor = registrar ? `sip:${options.user}@${registrar.host}:${registrar.port}${transportParam}` : uri;

  const configDir = await mkdtemp(join(tmpdir(), 'baresip-'));
  const template = await readFile(CONFIG_TEMPLATE, 'utf8');
  await writeFile(join(configDir, 'config'), template.replaceAll('@SIP_LISTEN@', `${HOST}:${options.port}`));
  await writeFile(join(configDir, 'accounts'), `${accountLine(aor, registrar)}\n`);

  const child = spawn('baresip', ['-f', configDir, '-t', String(lifetimeSeconds), '-s'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.set(child, configDir);
  // Raw output keeps the colour codes: they frame the `-s` trace blocks (see parseSipTrace).
  let raw = '';
  const listeners = new Set<() => void>();
  const onOutput = (chunk: Buffer): void => {
    raw += chunk.toString('utf8');
    for (const listener of listeners) listener();
  };
  const log = (): string => raw.replace(ANSI_ESCAPE, '');
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  // 'close', not 'exit': by then all output has been read.
  const exited = new Promise<PeerExit>((resolve) => {
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const spawnFailed = new Promise<never>((_resolve, reject) => child.once('error', reject));

  const stop = async (): Promise<void> => {
    if (running.has(child)) {
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(killTimer);
    }
    await rm(configDir, { recursive: true, force: true });
  };

  // Ready once baresip says so and, with a registrar, once the REGISTER got its 200 (baresip
  // prints "user@host: {0/UDP/v4} 200 OK (server) [1 binding]"). A failed registration is one line:
  // "reg: sip:user@host:port: 401 Unauthorized (server)" (after many retries with a wrong password)
  // or "reg: sip:user@host:port: Register: Connection refused".
  const registered = new RegExp(`^${escapeRegExp(options.user)}@\\S+: \\{\\d+/\\w+/v4\\} 200 `, 'm');
  const registrationFailed = /^reg: \S+: (.*)$/m;
  const readiness = (): 'ready' | 'waiting' | Error => {
    const output = log();
    const failure = registrar ? registrationFailed.exec(output) : null;
    if (failure) return new Error(`baresip could not register ${aor}: ${failure[1]}`);
    if (!output.includes('baresip is ready.')) return 'waiting';
    return !registrar || registered.test(output) ? 'ready' : 'waiting';
  };
  try {
    await Promise.race([
      new Promise<void>((resolve, reject) => {
        const settle = (outcome: Error | undefined): void => {
          clearTimeout(timer);
          listeners.delete(check);
          if (outcome) reject(outcome);
          else resolve();
        };
        const check = (): void => {
          const state = readiness();
          if (state !== 'waiting') settle(state === 'ready' ? undefined : state);
        };
        const timer = setTimeout(() => settle(new Error(`baresip not ready within ${startTimeoutMs} ms`)), startTimeoutMs);
        listeners.add(check);
        check();
      }),
      exited.then((exit) => {
        throw new Error(`baresip exited before it was ready (code ${exit.code}, signal ${exit.signal})`);
      }),
      spawnFailed,
    ]);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n--- baresip log ---\n${log()}`, { cause: error });
  }

  return {
    pid: child.pid ?? -1,
    uri,
    aor,
    configDir,
    exited,
    log,
    sipMessages: () => parseSipTrace(raw),
    stop,
  };
}

/** `<sip:alice@127.0.0.1:5070;transport=tcp>;auth_pass=pw;regint=60;answermode=auto` */
function accountLine(aor: string, registrar: BaresipOptions['registrar']): string {
  const params = [`<${aor}>`];
  if (registrar?.password !== undefined) params.push(`auth_pass=${registrar.password}`);
  params.push(`regint=${registrar ? (registrar.regint ?? 60) : 0}`);
  params.push('answermode=auto');
  return params.join(';');
}

/**
 * baresip's `-s` trace prints each message as ESC[36;1m "#" LF, "UDP 127.0.0.1:5070 -> 127.0.0.1:5071"
 * LF, the message (CRLF lines), ESC[;m LF. Requests it sends carry `User-Agent: baresip`,
 * responses it sends `Server: baresip`. Takes the raw output, colour codes included.
 */
export function parseSipTrace(rawOutput: string): BaresipTracedMessage[] {
  const messages: BaresipTracedMessage[] = [];
  // A line another thread printed may come between a block's "#" and its transport line: it is
  // skipped (never past the next block's "#"), rather than losing the block.
  const block = /\x1b\[36;1m#\n(?:(?!\x1b\[36;1m#\n)(?!(?:UDP|TCP|TLS) \S+ -> \S+\n)[^\n]*\n)*?(UDP|TCP|TLS) (\S+) -> (\S+)\n([\s\S]*?)\x1b\[;m/g;
  for (const [, transport, source, destination, text] of rawOutput.matchAll(block)) {
    const startLine = text!.split('\r\n', 1)[0] ?? '';
    const response = /^SIP\/2\.0 (\d{3}) /.exec(startLine);
    const request = /^([A-Z]+) \S+ SIP\/2\.0$/.exec(startLine);
    const ownHeader = response ? /^Server: baresip/im : /^User-Agent: baresip/im;
    messages.push({
      direction: ownHeader.test(text!) ? 'sent' : 'received',
      transport: transport!,
      source: source!,
      destination: destination!,
      method: request ? request[1]! : null,
      status: response ? Number(response[1]) : null,
      text: text!,
    });
  }
  return messages;
}

function checkToken(name: string, value: string): void {
  if (!SAFE_TOKEN.test(value)) throw new TypeError(`baresip ${name} must match ${SAFE_TOKEN}: ${JSON.stringify(value)}`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
