/**
 * `npm run demo` end to end, against the real PostgreSQL and Redis: the script as a user runs it
 * (exit status 0, the call's progress and a complete ladder on stdout), runDemo() in flows I and IV,
 * and the failures a user can meet, each with its exit status and a message saying what is wrong.
 * Each run has its own database (dropped afterwards) and its own queue prefix.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DemoFailed, renderLadder, runDemo, type LadderLine } from '../../src/demo/index.js';
import { dropDatabase } from '../../src/store/index.js';
import { removeQueueKeys } from '../e2e/service.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const DATABASE_SERVER = 'postgresql://postgres:postgres@127.0.0.1:5432';

function demoDatabase(t: TestContext): string {
  const name = `ctd_demo_test_${randomBytes(4).toString('hex')}`;
  t.after(() => dropDatabase(`${DATABASE_SERVER}/${name}`).catch(() => undefined));
  return name;
}

/** A BullMQ prefix of its own per run (no other test's engine takes its calls), its keys removed after. */
function queuePrefix(t: TestContext): string {
  const prefix = `ctd-demo-test-${randomBytes(4).toString('hex')}`;
  t.after(() => removeQueueKeys('redis://127.0.0.1:6379', prefix).catch(() => undefined));
  return prefix;
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A complete flow III / I / IV ladder: both legs INVITEd, answered, ACKed, sent BYE and its 200. */
function assertCompleteLadder(text: string): void {
  const rows = text.split('\n').filter((line) => /^\s+\d+\.\d{3} s {2}\|/.test(line));
  const left = rows.filter((row) => /^\s+\S+ s {2}\|[^|]*[<>][^|]*\| {40}\|$/.test(row));
  const right = rows.filter((row) => /^\s+\S+ s {2}\| {40}\|[^|]*[<>][^|]*\|$/.test(row));
  assert.equal(left.length + right.length, rows.length, `every row is an arrow on one leg:\n${text}`);
  for (const [leg, legRows] of [['a', left], ['b', right]] as const) {
    const has = (pattern: RegExp) => legRows.some((row) => pattern.test(row));
    assert.ok(has(/<-+ INVITE sip:/) || has(/-+ INVITE sip:\S+ -+>/), `leg ${leg} INVITE:\n${text}`);
    assert.ok(has(/ 200 OK \(\d+ INVITE\) /), `leg ${leg} 200 to INVITE:\n${text}`);
    assert.ok(has(/ ACK sip:/), `leg ${leg} ACK:\n${text}`);
    assert.ok(has(/ BYE sip:/), `leg ${leg} BYE:\n${text}`);
    assert.ok(has(/ 200 OK \(\d+ BYE\) /), `leg ${leg} 200 to BYE:\n${text}`);
  }
  // alice's rows point left from the engine for requests it sends; bob's point right.
  assert.ok(left.some((row) => /\|<-+ INVITE sip:alice@/.test(row)), text);
  assert.ok(right.some((row) => /\|-+ INVITE sip:bob@\S+ -+>\|/.test(row)), text);
}

describe('npm run demo', () => {
  test('the script places a call through the API, prints its progress and a complete SIP ladder, and exits 0', async (t) => {
    const result = await run(['--database', demoDatabase(t), '--queue-prefix', queuePrefix(t), '--hold', '0.5']);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    const out = result.stdout;
    for (const expected of [
      /POST \/v1\/calls → 202 call_\w+ \(flow 3/,
      /event +1 +call\.queued/,
      /call\.leg\.ringing +leg a \(alice\): ringing — SIP 180 Ringing/,
      /call\.leg\.answered +leg b \(bob\): answered — SIP 200 OK/,
      /call\.connected +call: connected/,
      /hangup → 202/,
      /call\.completed +call: completed — endReason api_hangup/,
      /SIP ladder of call_\w+/,
      /done: call_\w+ completed \(api_hangup\)/,
    ]) {
      assert.match(out, expected, out);
    }
    assert.match(out.split('\n').find((line) => line.includes('alice') && line.includes('engine') && line.includes('bob') && !line.includes('RTP')) ?? '', /^\s+alice\s+engine\s+bob$/, 'the ladder has its three columns');
    assertCompleteLadder(out);
    // Flow III plays the ringback tone to alice while bob rings: packets reach alice's RTP port.
    assert.match(out, /RTP packets received: alice [1-9]\d*/, out);
  });

  for (const flow of [1, 4] as const) {
    test(`runDemo() in flow ${flow} completes with a complete ladder`, async (t) => {
      const printed: string[] = [];
      const result = await runDemo({ flow, holdMs: 300, ringMs: 100, databaseName: demoDatabase(t), queuePrefix: queuePrefix(t), print: (line) => printed.push(line) }).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\n${printed.join('\n')}`, { cause: error });
      });
      assert.equal(result.status, 'completed', printed.join('\n'));
      assert.equal(result.endReason, 'api_hangup');
      assert.deepEqual(result.events.map((e) => e.sequence), result.events.map((_, i) => i + 1), 'events 1, 2, 3… with no gaps');
      assert.deepEqual(
        result.events.filter((e) => e.leg === null).map((e) => e.type),
        ['call.queued', 'call.connected', 'call.completed'],
      );
      assertCompleteLadder(result.ladder);
      assert.equal(result.ladder, renderLadder(result.sipLog));
      const invitesToAlice = result.sipLog.filter((line: LadderLine) => line.leg === 'a' && line.direction === 'out' && line.line.startsWith('INVITE '));
      assert.equal(invitesToAlice.length, flow === 4 ? 2 : 1, 'flow IV re-INVITEs alice with bob’s offer; flow I does not');
    });
  }

  test('a service that cannot start fails the demo with a message naming what to check', async (t) => {
    await assert.rejects(
      runDemo({ env: { DATABASE_URL: 'postgresql://postgres:postgres@127.0.0.1:1/nowhere' }, databaseName: 'ctd_demo_unreachable', queuePrefix: queuePrefix(t), print: () => undefined, timeoutMs: 5000 }),
      (error: unknown) => error instanceof DemoFailed && /cannot start the service/.test(error.message) && /is PostgreSQL running at postgresql:\/\/postgres:\*\*\*@127\.0\.0\.1:1\//.test(error.message),
    );
  });

  test('bad arguments exit 2 with the usage', async () => {
    const result = await run(['--flow', '2']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--flow must be 1, 3 or 4, not 2/);
    assert.match(result.stderr, /usage: npm run demo/);
  });
});
