/**
 * Kamailio 5.6 (Debian) as a loopback registrar and record-routing proxy for tests, with the
 * configuration in test/peers/kamailio/kamailio.cfg: UDP and TCP on 127.0.0.1:PORT, locations in
 * memory, record_route() on dialog-forming requests, loose_route() for in-dialog ones, and
 * optionally a digest challenge (401 for REGISTER, 407 otherwise) for one user.
 *
 * It runs in the foreground (`-DD -E`, logs on stderr) under `timeout`, so it ends by itself after
 * lifetimeSeconds even if the test process dies; stop() ends it earlier. Its runtime folder and
 * pid file live in a fresh temporary folder. Ready when it answers an OPTIONS over UDP and accepts a
 * TCP connection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface KamailioAuth {
  /** Requests whose From user is this must carry valid digest credentials. */
  user: string;
  password: string;
  realm: string;
}

export interface KamailioOptions {
  /** UDP and TCP port on 127.0.0.1. */
  port: number;
  /** Turns on the digest challenge (the config's WITH_AUTH switch). */
  auth?: KamailioAuth;
  /**
   * TLS on 127.0.0.1:port as well (the config's WITH_TLS switch, module tls.so from Debian's
   * kamailio-tls-modules), with this certificate; peers' certificates are checked against caFile
   * both ways (ours when Kamailio connects to us, as a client too).
   */
  tls?: { port: number; certFile: string; keyFile: string; caFile: string };
  /** Kamailio is killed after this many seconds whatever happens; default 120. */
  lifetimeSeconds?: number;
  /** How long to wait for the OPTIONS probe to be answered; default 5000 ms. */
  startTimeoutMs?: number;
}

export interface PeerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface KamailioHandle {
  readonly pid: number;
  readonly host: string;
  readonly port: number;
  /** sip:127.0.0.1:PORT */
  readonly uri: string;
  readonly runDir: string;
  readonly exited: Promise<PeerExit>;
  /** Everything Kamailio logged so far. Lines with "PEER-TEST" come from the config's xlog(). */
  log(): string;
  /**
   * Resolves with the log once `pattern` is in it (Kamailio's workers write their lines a moment
   * after they answer: a peer can see the 200 before the line is here). Rejects after `timeoutMs`.
   */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, SIGKILL after 3 s; removes runDir. */
  stop(): Promise<void>;
}

export const KAMAILIO_CONFIG = fileURLToPath(new URL('../peers/kamailio/kamailio.cfg', import.meta.url));
const HOST = '127.0.0.1';
const STOP_GRACE_MS = 3000;
const PROBE_INTERVAL_MS = 100;
/** Values become quoted pre-processor strings: no quotes, spaces or backslashes. */
const SAFE_TOKEN = /^[A-Za-z0-9._~!*+@:-]+$/;

/** Process groups (`timeout`, Kamailio, its children) still running, by leader, with their folders. */
const running = new Map<ChildProcess, string>();
process.once('exit', () => {
  for (const [child, folder] of running) {
    killGroup(child, 'SIGKILL');
    rmSync(folder, { recursive: true, force: true });
  }
});

export async function startKamailio(options: KamailioOptions): Promise<KamailioHandle> {
  const lifetimeSeconds = options.lifetimeSeconds ?? 120;
  const startTimeoutMs = options.startTimeoutMs ?? 5000;
  const defines: string[] = [];
  if (options.auth) {
    for (const [name, value] of Object.entries(options.auth)) {
      if (!SAFE_TOKEN.test(value)) throw new TypeError(`kamailio auth.${name} must match ${SAFE_TOKEN}`);
    }
    defines.push(
      '-A', 'WITH_AUTH',
      '-A', `AUTH_USER="${options.auth.user}"`,
      '-A', `AUTH_PASSWORD="${options.auth.password}"`,
      '-A', `AUTH_REALM="${options.auth.realm}"`,
    );
  }

  const runDir = await mkdtemp(join(tmpdir(), 'kamailio-'));
  const listen: string[] = [];
  if (options.tls) {
    const tlsConfig = join(runDir, 'tls.cfg');
    await writeFile(tlsConfig, tlsProfiles(options.tls));
    defines.push('-A', 'WITH_TLS', '-A', `TLS_CONFIG="${tlsConfig}"`);
    listen.push('-l', `tls:${HOST}:${options.tls.port}`);
  }
  const args = [
    '--kill-after=3', String(lifetimeSeconds),
    'kamailio', '-f', KAMAILIO_CONFIG, '-DD', '-E',
    '-Y', runDir, '-P', join(runDir, 'kamailio.pid'), '-w', runDir,
    '-m', '32', '-M', '4',
    '-l', `udp:${HOST}:${options.port}`, '-l', `tcp:${HOST}:${options.port}`,
    ...listen,
    ...defines,
  ];
  // `timeout` forwards our SIGTERM to Kamailio, which stops its own children. Detached, it leads a
  // process group holding all of them, so the SIGKILL fallback reaches Kamailio's children too.
  const child = spawn('timeout', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.set(child, runDir);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  // 'close' comes once every process holding the output pipes (all of Kamailio's) has ended.
  const exited = new Promise<PeerExit>((resolve) => {
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const spawnFailed = new Promise<never>((_resolve, reject) => child.once('error', reject));
  let hasExited = false;
  void exited.then(() => (hasExited = true));

  const stop = async (): Promise<void> => {
    if (running.has(child)) {
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => killGroup(child, 'SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(killTimer);
    }
    await rm(runDir, { recursive: true, force: true });
  };

  try {
    await Promise.race([
      waitUntilAnswering(options.port, startTimeoutMs, () => hasExited),
      exited.then((exit) => {
        throw new Error(`kamailio exited before it was ready (code ${exit.code}, signal ${exit.signal})`);
      }),
      spawnFailed,
    ]);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n--- kamailio log ---\n${output}`, { cause: error });
  }

  return {
    pid: child.pid ?? -1,
    host: HOST,
    port: options.port,
    uri: `sip:${HOST}:${options.port}`,
    runDir,
    exited,
    log: () => output,
    async waitForLog(pattern, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (Date.now() > deadline) throw new Error(`Kamailio did not log ${pattern} within ${timeoutMs} ms:\n${output.slice(-3000)}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      return output;
    },
    stop,
  };
}

/** tls.cfg: TLS 1.2 or later; as a server, a client certificate is checked if one is sent; as a client, the server's must be valid. */
function tlsProfiles(tls: { certFile: string; keyFile: string; caFile: string }): string {
  const common = [`method = TLSv1.2+`, `certificate = ${tls.certFile}`, `private_key = ${tls.keyFile}`, `ca_list = ${tls.caFile}`];
  return ['[server:default]', ...common, 'verify_certificate = yes', 'require_certificate = no', '', '[client:default]', ...common, 'verify_certificate = yes', 'require_certificate = yes', ''].join('\n');
}

/** OPTIONS over UDP until a response comes back, then one TCP connect; bounded by timeoutMs. */
async function waitUntilAnswering(port: number, timeoutMs: number, gaveUp: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, HOST, () => resolve());
    });
    const answered = new Promise<void>((resolve) => socket.once('message', () => resolve()));
    let attempt = 0;
    let done = false;
    void answered.then(() => (done = true));
    while (!done) {
      if (Date.now() > deadline) throw new Error(`kamailio did not answer OPTIONS on ${HOST}:${port} within ${timeoutMs} ms`);
      if (gaveUp()) return;
      attempt += 1;
      socket.send(optionsRequest(port, socket.address().port, attempt), port, HOST);
      await Promise.race([answered, delay(PROBE_INTERVAL_MS)]);
    }
  } finally {
    socket.close();
  }
  await new Promise<void>((resolve, reject) => {
    const tcp = connect({ host: HOST, port }, () => {
      tcp.end();
      resolve();
    });
    tcp.once('error', reject);
  });
}

function optionsRequest(port: number, localPort: number, attempt: number): string {
  return [
    `OPTIONS sip:${HOST}:${port} SIP/2.0`,
    `Via: SIP/2.0/UDP ${HOST}:${localPort};branch=z9hG4bK-ready-${localPort}-${attempt};rport`,
    'Max-Forwards: 70',
    `From: <sip:ready@${HOST}:${localPort}>;tag=ready${attempt}`,
    `To: <sip:${HOST}:${port}>`,
    `Call-ID: ready-${localPort}@${HOST}`,
    `CSeq: ${attempt} OPTIONS`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
