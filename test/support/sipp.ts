/**
 * SIPp 3.6.1 (`sipp`, Debian sip-tester) as a test peer on 127.0.0.1.
 *
 * - startSippUas(): a UAS scenario in the background. Resolves once SIPp's own socket is bound on
 *   the SIP port (checked in /proc, for the transport used), so requests sent right after cannot be
 *   lost; rejects with SIPp's output if it exits first or is not listening within 5 s.
 * - runSippUac(): a UAC scenario in the foreground (SIPp dials `target`), resolved when it exits.
 *
 * Every run gets its own temporary folder (its cwd, so SIPp litters nothing else) with the message
 * trace (-trace_msg), the error trace (-trace_err: unexpected messages, failed checks, <warning>),
 * the scenario's <log> lines (-trace_logs) and the statistics (-trace_stat, every second). All of
 * that and the last screen go into report(), for assertion messages. SIPp runs with -timeout
 * -timeout_error (without -timeout_error, SIPp 3.6.1 ignores -timeout while a call retransmits),
 * and is killed by PID when the test ends, so no SIPp outlives its test.
 *
 * SIPp's exit status (sipp -h, and as seen here):
 *   0   every call succeeded (also after SIGTERM: SIPp catches it and exits 0, so a stopped SIPp
 *       proves nothing; wait() rejects instead of returning that);
 *   1   at least one call failed (a failed check_it, a receive timeout, an unexpected message...),
 *       but also some errors at start-up (-set of a variable the scenario does not declare);
 *   97  stopped by an internal command (calls may have been processed);
 *   99  normal exit without any call processed;
 *   255 (-1) fatal error: scenario error, bad argument, -timeout reached with -timeout_error;
 *   254 (-2) fatal error binding a socket (a port already in use).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { canBind, LOOPBACK } from './ports.js';

export type SippTransport = 'udp' | 'tcp';

export const SIPP_EXIT = {
  success: 0,
  callFailed: 1,
  internalCommand: 97,
  noCallProcessed: 99,
  fatal: 255,
  bindFailed: 254,
} as const;

export interface SippExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface SippCommonOptions {
  /** Path of the scenario file (-sf). */
  scenario: string;
  /** Local SIP port (-p). */
  port: number;
  /** Local media port (-mp). SIPp binds it and port + 2 (UDP). */
  mediaPort: number;
  transport: SippTransport;
  /** Calls before SIPp exits (-m); default 1. */
  calls?: number;
  /** Scenario variables (-set NAME VALUE). SIPp refuses to start if the scenario does not declare one. */
  vars?: Record<string, string | number>;
  /** Generic keywords (-key NAME VALUE), for [NAME] in the scenario. */
  keys?: Record<string, string>;
  /** [service] (-s); SIPp's default is "service". */
  service?: string;
  /** -timeout with -timeout_error, in seconds. */
  timeoutSeconds?: number;
  /** Passed on before the target, e.g. ['-au', 'alice', '-ap', 'secret'] or ['-nr']. */
  extraArgs?: string[];
  /** One of SIPp's built-in scenarios (-sn) instead of `scenario`. */
  builtIn?: 'uac' | 'uas';
  /** -trace_msg; default true. Off for load: the message file would cost SIPp more than the calls. */
  traceMessages?: boolean;
}

export interface SippUasOptions extends SippCommonOptions {
  /** -timeout for the whole run; default 30 s. */
  timeoutSeconds?: number;
  /** How long to wait for SIPp to listen; default 5000 ms. */
  startTimeoutMs?: number;
}

export interface SippUasHandle {
  readonly port: number;
  readonly pid: number;
  readonly transport: SippTransport;
  /** sip:user@127.0.0.1:port, with ;transport=tcp over TCP. */
  uri(user?: string): string;
  /** Resolves when SIPp has exited (by itself or by stop()); never rejects. */
  readonly exited: Promise<SippExit>;
  /** The message trace so far (-trace_msg): every message sent and received. */
  messages(): Promise<string>;
  /** The error trace so far (-trace_err). */
  errors(): Promise<string>;
  /** The scenario's <log> output so far (-trace_logs). */
  logs(): Promise<string>;
  /** The last row of the statistics (-trace_stat), by column (e.g. "SuccessfulCall(C)"); {} before the first one. */
  stats(): Promise<Record<string, string>>;
  /** Command line, exit status, errors, logs and the last screen, for assertion messages. */
  report(): Promise<string>;
  /**
   * Waits until SIPp exits by itself (after its -m calls). After `timeoutMs` it stops SIPp and
   * rejects with the report: an exit forced by a signal says nothing about the calls.
   */
  wait(timeoutMs: number): Promise<SippExit>;
  /** SIGTERM by PID, SIGKILL after 3 s; resolves once SIPp has exited. */
  stop(): Promise<void>;
}

export interface SippUacOptions extends SippCommonOptions {
  /** host:port SIPp sends to. */
  target: string;
  /** -timeout; default 10 s. SIPp is killed 10 s after that if it still runs. */
  timeoutSeconds?: number;
}

export interface SippResult extends SippExit {
  /** Every message SIPp sent and received (-trace_msg). */
  messages: string;
  /** -trace_err. */
  errors: string;
  /** -trace_logs. */
  logs: string;
  /** Command line, exit status, errors, logs and the last screen, for assertion messages. */
  report: string;
}

const STOP_GRACE_MS = 3000;
const SCREEN_KEEP = 4000;
const OUTPUT_KEEP = 64 * 1024;
const ANSI_ESCAPE = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** Running SIPp processes: killed if the test process exits first. */
const running = new Map<ChildProcess, string>();
process.once('exit', () => {
  for (const [child, folder] of running) {
    child.kill('SIGKILL');
    rmSync(folder, { recursive: true, force: true });
  }
});

export async function startSippUas(t: TestContext, options: SippUasOptions): Promise<SippUasHandle> {
  const run = await launch(t, options, { timeoutSeconds: options.timeoutSeconds ?? 30, target: null });
  const startTimeoutMs = options.startTimeoutMs ?? 5000;

  const deadline = Date.now() + startTimeoutMs;
  let failure: string | null = null;
  for (;;) {
    if (run.exit) {
      failure = `SIPp exited before it was listening on ${options.transport} ${LOOPBACK}:${options.port}`;
      break;
    }
    if (await isListening(run.child, options.transport, options.port)) break;
    if (Date.now() > deadline) {
      failure = `SIPp was not listening on ${options.transport} ${LOOPBACK}:${options.port} within ${startTimeoutMs} ms`;
      break;
    }
    await sleep(20);
  }
  if (failure) {
    await run.stop();
    throw new Error(`${failure}\n${await run.report()}`);
  }
  // Right after binding, SIPp can take 30 ms or more to send its first response; a UAC with a
  // short T1 then retransmits, and SIPp 3.6.1 aborts a call whose INVITE is retransmitted after
  // it has already sent two responses. Once warm it answers within a few ms.
  await sleep(150);

  return {
    port: options.port,
    pid: run.child.pid ?? -1,
    transport: options.transport,
    uri: (user = 'service') => `sip:${user}@${LOOPBACK}:${options.port}${options.transport === 'tcp' ? ';transport=tcp' : ''}`,
    exited: run.exited,
    messages: () => readText(run.files.messages),
    errors: () => readText(run.files.errors),
    logs: () => readText(run.files.logs),
    stats: async () => lastStatsRow(await readText(run.files.stats)),
    report: run.report,
    wait: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const outcome = await Promise.race([run.exited, timedOut]).finally(() => clearTimeout(timer));
      if (outcome !== 'timeout') return outcome;
      await run.stop();
      throw new Error(`SIPp did not exit within ${timeoutMs} ms, stopped it\n${await run.report()}`);
    },
    stop: run.stop,
  };
}

export async function runSippUac(t: TestContext, options: SippUacOptions): Promise<SippResult> {
  const timeoutSeconds = options.timeoutSeconds ?? 10;
  const run = await launch(t, options, { timeoutSeconds, target: options.target });
  const killTimer = setTimeout(() => run.child.kill('SIGKILL'), (timeoutSeconds + 10) * 1000);
  const exit = await run.exited.finally(() => clearTimeout(killTimer));
  return {
    ...exit,
    messages: await readText(run.files.messages),
    errors: await readText(run.files.errors),
    logs: await readText(run.files.logs),
    report: await run.report(),
  };
}

interface Run {
  child: ChildProcess;
  args: string[];
  files: { messages: string; errors: string; logs: string; stats: string };
  exited: Promise<SippExit>;
  /** Set once exited. */
  readonly exit: SippExit | null;
  report(): Promise<string>;
  stop(): Promise<void>;
}

async function launch(
  t: TestContext,
  options: SippCommonOptions,
  mode: { timeoutSeconds: number; target: string | null },
): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), mode.target === null ? 'sipp-uas-' : 'sipp-uac-'));
  const files = {
    messages: join(dir, 'messages.log'),
    errors: join(dir, 'errors.log'),
    logs: join(dir, 'logs.log'),
    stats: join(dir, 'stats.csv'),
  };
  const args = [
    ...(options.builtIn ? ['-sn', options.builtIn] : ['-sf', options.scenario]),
    '-i', LOOPBACK,
    '-ci', LOOPBACK,
    '-p', String(options.port),
    '-mp', String(options.mediaPort),
    '-t', options.transport === 'tcp' ? 't1' : 'u1',
    '-m', String(options.calls ?? 1),
    '-timeout', `${mode.timeoutSeconds}s`,
    '-timeout_error',
    '-nostdin',
    ...(options.traceMessages === false ? [] : ['-trace_msg', '-message_file', files.messages]),
    '-trace_err', '-error_file', files.errors,
    '-trace_logs', '-log_file', files.logs,
    '-trace_stat', '-stf', files.stats, '-fd', '1',
    ...(options.service === undefined ? [] : ['-s', options.service]),
    ...Object.entries(options.vars ?? {}).flatMap(([name, value]) => ['-set', name, String(value)]),
    ...Object.entries(options.keys ?? {}).flatMap(([name, value]) => ['-key', name, value]),
    ...(options.extraArgs ?? []),
    ...(mode.target === null ? [] : [mode.target]),
  ];

  const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  running.set(child, dir);
  let output = '';
  const onOutput = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEEP);
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);

  let exit: SippExit | null = null;
  // 'close', not 'exit': by then all output has been read. A spawn that fails (no sipp) only
  // emits 'error'.
  const exited = new Promise<SippExit>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (exit) return;
      running.delete(child);
      exit = { code, signal };
      resolve(exit);
    };
    child.once('error', (error) => {
      output += `\nspawn failed: ${error.message}`;
      if (child.pid === undefined) finish(null, null);
    });
    child.once('close', finish);
  });

  const run: Run = {
    child,
    args,
    files,
    exited,
    get exit() {
      return exit;
    },
    report: async () => {
      const status = exit ? `exit code ${exit.code}, signal ${exit.signal}` : `running, pid ${child.pid}`;
      const screen = output.replace(ANSI_ESCAPE, '').slice(-SCREEN_KEEP);
      return [
        `sipp ${args.join(' ')}`,
        status,
        `--- errors (-trace_err) ---\n${await readText(files.errors)}`,
        `--- logs (-trace_logs) ---\n${await readText(files.logs)}`,
        `--- last screen ---\n${screen}`,
      ].join('\n');
    },
    stop: async () => {
      if (exit) return;
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(killTimer);
    },
  };

  t.after(async () => {
    await run.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return run;
}

/**
 * Whether `child` itself has a socket bound on 127.0.0.1:port (or 0.0.0.0:port) for the transport:
 * a UDP socket, or a TCP one in LISTEN state. Reads /proc/net and /proc/PID/fd, so it never binds
 * the port itself (a probing bind could make SIPp's own bind fail). Without /proc: whether the port
 * can no longer be bound.
 */
async function isListening(child: ChildProcess, transport: SippTransport, port: number): Promise<boolean> {
  const pid = child.pid;
  let table: string;
  try {
    table = await readFile(`/proc/net/${transport}`, 'utf8');
  } catch {
    return !(await canBind(transport, port));
  }
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const [address, localPort] = (fields[1] ?? '').split(':');
    if (localPort !== portHex || (address !== '0100007F' && address !== '00000000')) continue;
    if (transport === 'tcp' && fields[3] !== '0A') continue;
    if (fields[9]) inodes.add(`socket:[${fields[9]}]`);
  }
  if (inodes.size === 0 || pid === undefined) return false;
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (inodes.has(target)) return true;
  }
  return false;
}

function lastStatsRow(csv: string): Record<string, string> {
  const lines = csv.split('\n').filter((line) => line.trim() !== '');
  if (lines.length < 2) return {};
  const header = lines[0]!.split(';');
  const row = lines[lines.length - 1]!.split(';');
  return Object.fromEntries(header.map((name, index) => [name, row[index] ?? ''] as const).filter(([name]) => name !== ''));
}

function readText(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}

/** One message of a SIPp -trace_msg file. */
export interface SippTracedMessage {
  /** "2026-12-01 07:22:28.311746" as SIPp printed it. */
  at: string;
  transport: string;
  direction: 'sent' | 'received';
  /** Request method ("INVITE") or null for a response. */
  method: string | null;
  /** Response status code or null for a request. */
  status: number | null;
  /** The message, CRLF line ends. */
  text: string;
}

/**
 * Splits a -trace_msg file: each entry is a line of 47 dashes and a timestamp, a line
 * "UDP message received [N] bytes :" or "UDP message sent (N bytes):", an empty line, the message.
 * Other entries (SIPp also traces losses and discarded messages there) are skipped.
 */
export function parseSippMessages(trace: string): SippTracedMessage[] {
  const messages: SippTracedMessage[] = [];
  const entries = trace.split(/^-{47} (\S+ \S+)\n/m);
  for (let index = 1; index + 1 < entries.length; index += 2) {
    const at = entries[index]!;
    const match = /^(\w+) message (received|sent) [[(]\d+\]? ?bytes\)? ?:\n\n([\s\S]*)$/.exec(entries[index + 1]!);
    if (!match) continue;
    const text = match[3]!.replace(/\n$/, '');
    const startLine = text.split('\r\n', 1)[0] ?? '';
    const response = /^SIP\/2\.0 (\d{3})\b/.exec(startLine);
    const request = /^([A-Za-z!%*_+`'~.-]+) \S+ SIP\/2\.0$/.exec(startLine);
    messages.push({
      at,
      transport: match[1]!,
      direction: match[2] === 'sent' ? 'sent' : 'received',
      method: request ? request[1]! : null,
      status: response ? Number(response[1]) : null,
      text,
    });
  }
  return messages;
}

// ---------------------------------------------------------------------------------------------
// The shared UAS scenarios (../shared/sip-peers/scenarios), with their SDP fixed.

const SHARED_SCENARIOS = fileURLToPath(new URL('../../../shared/sip-peers/scenarios/', import.meta.url));
let patchedScenarios: string | undefined;

/**
 * The path of a shared scenario, from a copy with two fixes for SIPp 3.6.1: its SDP says `IN IP4`
 * where the original says `IN [local_ip_type]`, which SIPp expands to `IN 4` (RFC 4566 §5.2/§5.7
 * want IP4 or IP6; a strict SDP parser, ours or baresip's, refuses the original); and its
 * `<pause variable="ring_ms"/>` pauses for real (SIPp paused 0 ms for a -set string variable).
 * The copies live in one temporary folder per test process, removed when it exits.
 */
export function sharedScenario(name: string): string {
  if (patchedScenarios === undefined) {
    const folder = mkdtempSync(join(tmpdir(), 'sipp-shared-'));
    patchedScenarios = folder;
    process.once('exit', () => rmSync(folder, { recursive: true, force: true }));
  }
  const target = join(patchedScenarios, `${name}.xml`);
  if (!existsSync(target)) {
    const original = readFileSync(join(SHARED_SCENARIOS, `${name}.xml`), 'utf8');
    const fixed = original
      .replace(/\bIN \[(local|media)_ip_type\]/g, 'IN IP[$1_ip_type]')
      // `-set ring_ms 200` makes a string variable, and <pause variable> of a string pauses 0 ms
      // in SIPp 3.6.1: convert it to a number first.
      .replace(/<pause variable="(\w+)"\s*\/>/g, '<nop><action><todouble assign_to="$1_number" variable="$1"/></action></nop>\n  <pause variable="$1_number"/>');
    writeFileSync(target, fixed);
  }
  return target;
}
