/**
 * Proves that the SIPp scenarios in test/peers/sipp/ behave as their headers say, before our own
 * SIP stack is tested against them: each UAS scenario is driven by a SIPp test UAC from
 * test/peers/sipp/test-uac/ (and the UAC scenarios by a tiny SIP responder in this file), once in
 * the way that must succeed and in the ways that must make the scenario fail.
 */
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePortBlock, LOOPBACK } from '../support/ports.js';
import {
  parseSippMessages,
  runSippUac,
  SIPP_EXIT,
  startSippUas,
  type SippResult,
  type SippTracedMessage,
  type SippTransport,
  type SippUasHandle,
  type SippUasOptions,
} from '../support/sipp.js';

const scenario = (name: string): string => fileURLToPath(new URL(`./sipp/${name}.xml`, import.meta.url));
const testUac = (name: string): string => scenario(`test-uac/${name}`);
const TRANSPORTS: SippTransport[] = ['udp', 'tcp'];
const FORMS = ['', '-offer'] as const;

// Port block per test: the UAS and its media ports (SIPp binds -mp and -mp + 2), the UAC and its.
const UAS = 0;
const UAC = 1;
const UAS_MEDIA = 2;
const UAC_MEDIA = 6;
const PORT_BLOCK = 10;

describe('uas-auth-answer: 401 challenge, digest checked with <verifyauth>', () => {
  for (const transport of TRANSPORTS) {
    for (const form of FORMS) {
      test(`accepts the right credentials and answers (${transport}, uas-auth-answer${form})`, async (t) => {
        const { uac, uas, messages } = await call(t, {
          uas: `uas-auth-answer${form}`,
          uac: `uac-auth-call${form}`,
          transport,
          uacArgs: ['-au', 'alice', '-ap', 'secret'],
        });
        assert.equal(uac.code, SIPP_EXIT.success, uac.report);
        assert.equal(uas.code, SIPP_EXIT.success, await uas.report);

        const sent = (status: number) => messages.find((m) => m.direction === 'sent' && m.status === status);
        const received = messages.filter((m) => m.direction === 'received');
        const challenge = sent(401)?.text ?? '';
        assert.match(challenge, /\r\nWWW-Authenticate: Digest realm="test\.invalid", nonce="sipp-\d+-1", qop="auth", algorithm=MD5\r\n/);
        assert.match(challenge, /\r\nTo: [^\r\n]*;tag=/);
        const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1];
        const invites = received.filter((m) => m.method === 'INVITE');
        assert.equal(invites.length, 2);
        assert.doesNotMatch(invites[0]!.text, /\r\nAuthorization:/);
        assert.match(invites[1]!.text, new RegExp(`\\r\\nAuthorization: Digest username="alice",realm="test\\.invalid",.*nonce="${nonce}"`));
        assert.match(invites[1]!.text, /\r\nCSeq: 2 INVITE\r\n/);
        assert.deepEqual(
          messages.filter((m) => m.direction === 'sent').map((m) => m.status),
          [401, 100, 180, 200, 200],
        );
        assert.deepEqual(received.map((m) => m.method), ['INVITE', 'ACK', 'INVITE', 'ACK', 'BYE']);
        assert.match(sent(200)?.text ?? '', /\r\nm=audio \d+ RTP\/AVP /, 'the 200 carries SDP');
        const acks = received.filter((m) => m.method === 'ACK');
        if (form === '-offer') {
          assert.doesNotMatch(invites[1]!.text, /\r\nm=audio /);
          assert.match(acks[1]!.text, /\r\nm=audio \d+ RTP\/AVP /, 'the ACK carries the answer');
        } else {
          assert.match(invites[1]!.text, /\r\nm=audio /);
        }
      });
    }

    test(`rejects a wrong password with 403 and fails the call (${transport})`, async (t) => {
      const { uas, messages, errors } = await call(t, {
        uas: 'uas-auth-answer',
        uac: 'uac-auth-call',
        transport,
        uacArgs: ['-au', 'alice', '-ap', 'not-the-secret'],
      });
      assert.equal(uas.code, SIPP_EXIT.callFailed, await uas.report);
      assert.deepEqual(
        messages.filter((m) => m.direction === 'sent').map((m) => m.status),
        [401, 403],
      );
      assert.equal(messages.filter((m) => m.direction === 'received' && m.method === 'ACK').length, 2, 'both rejections were ACKed');
      assert.match(errors, /uas-auth-answer: rejected: wrong digest response for user alice/);
    });
  }

  test('takes the credentials from -set auth_user / auth_password', async (t) => {
    const vars = { auth_user: 'bob', auth_password: 'pa55' };
    const good = await call(t, { uas: 'uas-auth-answer', uac: 'uac-auth-call', transport: 'udp', vars, uacArgs: ['-au', 'bob', '-ap', 'pa55'] });
    assert.equal(good.uas.code, SIPP_EXIT.success, await good.uas.report);
    assert.equal(good.uac.code, SIPP_EXIT.success, good.uac.report);

    // The defaults (alice / secret) no longer work.
    const old = await call(t, { uas: 'uas-auth-answer', uac: 'uac-auth-call', transport: 'udp', vars, uacArgs: ['-au', 'alice', '-ap', 'secret'] });
    assert.equal(old.uas.code, SIPP_EXIT.callFailed, await old.uas.report);
    assert.match(old.errors, /rejected: expected username\|realm\|nonce bob\|test\.invalid\|sipp-\d+-1, got alice\|test\.invalid\|sipp-\d+-1/);
  });

  test('fails the call when the ACK of the 401 is not on the INVITE branch', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sipp-scenario-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const wrongAck = join(dir, 'uac-auth-call-new-ack-branch.xml');
    const original = await readFile(testUac('uac-auth-call'), 'utf8');
    assert.ok(original.includes('branch=[branch-4]'));
    await writeFile(wrongAck, original.replace('branch=[branch-4]', 'branch=[branch]'));

    const { uas, errors } = await call(t, { uas: 'uas-auth-answer', uac: wrongAck, transport: 'udp', uacArgs: ['-au', 'alice', '-ap', 'secret'] });
    assert.equal(uas.code, SIPP_EXIT.callFailed, await uas.report);
    assert.match(errors, /test "ack_branch_cmp:[-\d.]+ == :0\.\d+" with check_it failed/);
  });

  test('fails the call when the INVITE form does not match (SDP offer sent to the -offer form)', async (t) => {
    const { uas, errors } = await call(t, {
      uas: 'uas-auth-answer-offer',
      uac: 'uac-auth-call',
      transport: 'udp',
      uacArgs: ['-au', 'alice', '-ap', 'secret'],
    });
    assert.equal(uas.code, SIPP_EXIT.callFailed, await uas.report);
    assert.match(errors, /Failed regexp match/);
  });
});

describe('uas-proxy-auth-answer: 407 challenge, Proxy-Authorization checked (UDP only)', () => {
  for (const form of FORMS) {
    test(`accepts the right credentials and answers (uas-proxy-auth-answer${form})`, async (t) => {
      const { uac, uas, messages } = await call(t, {
        uas: `uas-proxy-auth-answer${form}`,
        uac: `uac-auth-call${form}`,
        transport: 'udp',
        uacArgs: ['-au', 'alice', '-ap', 'secret'],
      });
      assert.equal(uac.code, SIPP_EXIT.success, uac.report);
      assert.equal(uas.code, SIPP_EXIT.success, await uas.report);
      const challenge = messages.find((m) => m.direction === 'sent' && m.status === 407)?.text ?? '';
      assert.match(challenge, /\r\nProxy-Authenticate: Digest realm="test\.invalid", nonce="sipp-\d+-1", qop="auth", algorithm=MD5\r\n/);
      const fromUac = messages.filter((m) => m.direction === 'received' && !m.text.startsWith('INVITE sip:verify@'));
      assert.deepEqual(fromUac.map((m) => m.method), ['INVITE', 'ACK', 'INVITE', 'ACK', 'BYE']);
      assert.match(fromUac[2]!.text, /\r\nProxy-Authorization: Digest username="alice",realm="test\.invalid",/);
      // The detour through "Authorization" for <verifyauth> is visible, and only that.
      const selfCheck = messages.filter((m) => m.text.startsWith('INVITE sip:verify@'));
      assert.deepEqual(selfCheck.map((m) => m.direction), ['sent', 'received']);
      // Everything else went to the UAC.
      const toUac = messages.filter((m) => m.direction === 'sent' && m.status !== null).map((m) => m.status);
      assert.deepEqual(toUac, [407, 100, 180, 200, 200]);
    });
  }

  test('rejects a wrong password with 403 and fails the call', async (t) => {
    const { uas, messages, errors } = await call(t, {
      uas: 'uas-proxy-auth-answer',
      uac: 'uac-auth-call',
      transport: 'udp',
      uacArgs: ['-au', 'alice', '-ap', 'not-the-secret'],
    });
    assert.equal(uas.code, SIPP_EXIT.callFailed, await uas.report);
    assert.deepEqual(
      messages.filter((m) => m.direction === 'sent' && m.status !== null).map((m) => m.status),
      [407, 403],
    );
    assert.match(errors, /uas-proxy-auth-answer: rejected: wrong digest response for user alice/);
  });

  test('stops with a fatal error over TCP', async (t) => {
    const { uas, errors } = await call(t, {
      uas: 'uas-proxy-auth-answer',
      uac: 'uac-auth-call',
      transport: 'tcp',
      uacArgs: ['-au', 'alice', '-ap', 'secret'],
      uacTimeoutSeconds: 3,
    });
    assert.equal(uas.code, SIPP_EXIT.fatal, await uas.report);
    assert.match(errors, /Can not switch protocols during setdest/);
  });
});

describe('uas-retransmit: ignores the first INVITE and the first BYE (UDP)', () => {
  for (const form of FORMS) {
    test(`answers the retransmissions (uas-retransmit${form})`, async (t) => {
      const { uac, uas, messages, logs, stats } = await call(t, { uas: `uas-retransmit${form}`, uac: `uac-call${form}`, transport: 'udp' });
      assert.equal(uac.code, SIPP_EXIT.success, uac.report);
      assert.equal(uas.code, SIPP_EXIT.success, await uas.report);
      assert.equal(stats['SuccessfulCall(C)'], '1');
      assert.equal(stats['FailedCall(C)'], '0');

      const received = messages.filter((m) => m.direction === 'received').map((m) => m.method);
      assert.deepEqual(received, ['INVITE', 'INVITE', 'ACK', 'BYE', 'BYE']);
      // Nothing but the decoys (to 127.0.0.1:9) was sent before each second copy.
      const sent = messages.filter((m) => m.direction === 'sent').map((m) => m.method ?? m.status);
      assert.deepEqual(sent, ['DECOY', 'DECOY', 100, 180, 200, 'DECOY', 'DECOY', 200]);
      const invites = messages.filter((m) => m.direction === 'received' && m.method === 'INVITE');
      assert.equal(invites[1]!.text, invites[0]!.text, 'the second INVITE is a retransmission');
      for (const method of ['INVITE', 'BYE']) {
        const ms = Number(new RegExp(`${method} retransmitted after (\\d+)`).exec(logs)?.[1]);
        assert.ok(ms >= 400 && ms < 1000, `${method} retransmitted after T1 (${ms} ms)`);
      }
      if (form === '-offer') {
        assert.doesNotMatch(invites[0]!.text, /\r\nm=audio /);
        assert.match(messages.find((m) => m.method === 'ACK')?.text ?? '', /\r\nm=audio \d+ RTP\/AVP /);
      }
    });
  }

  test('fails when the INVITE is never retransmitted (UAC with -nr)', async (t) => {
    const { uas, messages, errors, stats } = await call(t, {
      uas: 'uas-retransmit',
      uac: 'uac-call',
      transport: 'udp',
      uacArgs: ['-nr'],
      uacTimeoutSeconds: 3,
    });
    assert.equal(uas.code, SIPP_EXIT.callFailed, await uas.report);
    assert.equal(stats['FailedCall(C)'], '1');
    assert.match(errors, /receive timeout on message uas-retransmit:4 /);
    assert.equal(messages.filter((m) => m.direction === 'sent' && m.status !== null).length, 0, 'no response at all');
  });

  test('fails when the BYE is never retransmitted', async (t) => {
    const { uas, messages, errors } = await call(t, {
      uas: 'uas-retransmit',
      uac: 'uac-call-bye-once',
      transport: 'udp',
      uacTimeoutSeconds: 4,
    });
    assert.equal(uas.code, SIPP_EXIT.callFailed, await uas.report);
    assert.match(errors, /receive timeout on message uas-retransmit:13 /);
    assert.deepEqual(
      messages.filter((m) => m.direction === 'sent' && m.status !== null).map((m) => m.status),
      [100, 180, 200],
      'the BYE got no response',
    );
  });

  test('fails when the INVITE is retransmitted too early (100 ms)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sipp-scenario-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const eager = join(dir, 'uac-call-eager.xml');
    const original = await readFile(testUac('uac-call'), 'utf8');
    await writeFile(eager, original.replace('<send retrans="500">', '<send retrans="100">'));

    const { uas, errors } = await call(t, { uas: 'uas-retransmit', uac: eager, transport: 'udp' });
    assert.equal(uas.code, SIPP_EXIT.callFailed, await uas.report);
    assert.match(errors, /test "invite_retransmit_ms:\d+\.\d+ >= :400\.\d+" with check_it failed/);
  });
});

describe('uac-options and uac-unknown-method: SIPp as UAC against a responder', () => {
  const good: Responses = {
    OPTIONS: { status: '200 OK', headers: ['Allow: INVITE, ACK, CANCEL, BYE, OPTIONS', 'Supported: timer, replaces'] },
    FOO: { status: '501 Not Implemented', headers: ['Allow: INVITE, ACK, CANCEL, BYE, OPTIONS'] },
  };
  for (const transport of TRANSPORTS) {
    for (const name of ['uac-options', 'uac-unknown-method']) {
      test(`${name} passes against a correct answer (${transport})`, async (t) => {
        const { result, requests, target } = await probe(t, name, transport, good);
        assert.equal(result.code, SIPP_EXIT.success, result.report);
        const method = name === 'uac-options' ? 'OPTIONS' : 'FOO';
        assert.equal(requests.length, 1);
        assert.match(requests[0]!, new RegExp(`^${method} sip:bob@${target.replaceAll('.', '\\.')} SIP/2\\.0\\r\\n`));
        assert.match(requests[0]!, new RegExp(`\\r\\nCSeq: 1 ${method}\\r\\n`));
      });
    }
  }

  test('uac-options accepts several Allow lines, any case, and an empty compact Supported', async (t) => {
    const { result } = await probe(t, 'uac-options', 'udp', {
      OPTIONS: { status: '200 OK', headers: ['Allow: ACK, BYE', 'allow:INVITE', 'k: '] },
    });
    assert.equal(result.code, SIPP_EXIT.success, result.report);
  });

  const broken: [string, string, Responses][] = [
    ['uac-options', 'no Allow', { OPTIONS: { status: '200 OK', headers: ['Supported: timer'] } }],
    ['uac-options', 'an Allow without INVITE', { OPTIONS: { status: '200 OK', headers: ['Allow: ACK, INVITEX', 'Supported: timer', 'Subject: Allow: INVITE'] } }],
    ['uac-options', 'no Supported', { OPTIONS: { status: '200 OK', headers: ['Allow: INVITE, ACK'] } }],
    ['uac-options', 'a 405', { OPTIONS: { status: '405 Method Not Allowed', headers: ['Allow: INVITE'] } }],
    ['uac-unknown-method', 'no Allow', { FOO: { status: '501 Not Implemented', headers: [] } }],
    ['uac-unknown-method', 'an Allow with FOO', { FOO: { status: '501 Not Implemented', headers: ['Allow: INVITE, FOO'] } }],
    ['uac-unknown-method', 'a 200', { FOO: { status: '200 OK', headers: ['Allow: INVITE'] } }],
  ];
  for (const [name, what, responses] of broken) {
    test(`${name} fails on ${what}`, async (t) => {
      const { result } = await probe(t, name, 'udp', responses);
      assert.equal(result.code, SIPP_EXIT.callFailed, result.report);
    });
  }
});

describe('the SIPp harness (test/support/sipp.ts)', () => {
  test('startSippUas rejects with SIPp output when SIPp refuses to start', async (t) => {
    const ports = await freePortBlock(PORT_BLOCK);
    await assert.rejects(
      startSippUas(t, {
        scenario: scenario('uas-retransmit'),
        port: ports + UAS,
        mediaPort: ports + UAS_MEDIA,
        transport: 'udp',
        vars: { undeclared: 1 },
      }),
      // Exit status 1, as for a failed call.
      /SIPp exited before it was listening on udp 127\.0\.0\.1:\d+[\s\S]*exit code 1,[\s\S]*Can not set the global variable undeclared/,
    );
  });

  test('startSippUas rejects when the port is taken (exit status 254)', async (t) => {
    const ports = await freePortBlock(PORT_BLOCK);
    const blocker = createSocket('udp4');
    await new Promise<void>((resolve) => blocker.bind(ports + UAS, LOOPBACK, resolve));
    t.after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    await assert.rejects(
      startSippUas(t, { scenario: scenario('uas-retransmit'), port: ports + UAS, mediaPort: ports + UAS_MEDIA, transport: 'udp' }),
      /exit code 254/,
    );
  });

  for (const transport of TRANSPORTS) {
    test(`wait() stops a SIPp that does not finish in time and rejects; uri() names the port (${transport})`, async (t) => {
      const ports = await freePortBlock(PORT_BLOCK);
      const uas = await startSippUas(t, { scenario: scenario('uas-auth-answer'), port: ports + UAS, mediaPort: ports + UAS_MEDIA, transport });
      assert.equal(uas.uri('bob'), `sip:bob@127.0.0.1:${ports + UAS}${transport === 'tcp' ? ';transport=tcp' : ''}`);
      assert.ok(uas.pid > 0);
      await assert.rejects(uas.wait(300), /SIPp did not exit within 300 ms, stopped it/);
      const exit = await uas.exited;
      // SIPp catches SIGTERM and exits 0: hence the rejection above.
      assert.ok(exit.code === 0 || exit.signal !== null, JSON.stringify(exit));
      await uas.stop();
    });
  }
});

// ---------------------------------------------------------------------------------------------

interface CallOptions {
  /** UAS scenario name under test/peers/sipp/. */
  uas: string;
  /** Test UAC name under test/peers/sipp/test-uac/, or a path. */
  uac: string;
  transport: SippTransport;
  vars?: SippUasOptions['vars'];
  uacArgs?: string[];
  uacTimeoutSeconds?: number;
}

interface CallOutcome {
  uac: SippResult;
  uas: { code: number | null; report: Promise<string> };
  /** The UAS's message trace. */
  messages: SippTracedMessage[];
  errors: string;
  logs: string;
  /** The UAS's final statistics row (-trace_stat). */
  stats: Record<string, string>;
}

/** One call: the UAS scenario in the background, the test UAC against it, both waited for. */
async function call(t: TestContext, options: CallOptions): Promise<CallOutcome> {
  const ports = await freePortBlock(PORT_BLOCK);
  const uas: SippUasHandle = await startSippUas(t, {
    scenario: scenario(options.uas),
    port: ports + UAS,
    mediaPort: ports + UAS_MEDIA,
    transport: options.transport,
    timeoutSeconds: 15,
    ...(options.vars ? { vars: options.vars } : {}),
  });
  const uac = await runSippUac(t, {
    scenario: options.uac.includes('/') ? options.uac : testUac(options.uac),
    target: `${LOOPBACK}:${uas.port}`,
    service: 'alice',
    transport: options.transport,
    port: ports + UAC,
    mediaPort: ports + UAC_MEDIA,
    timeoutSeconds: options.uacTimeoutSeconds ?? 8,
    extraArgs: options.uacArgs ?? [],
  });
  const exit = await uas.wait(5000);
  return {
    uac,
    uas: { code: exit.code, report: uas.report() },
    messages: parseSippMessages(await uas.messages()),
    errors: await uas.errors(),
    logs: await uas.logs(),
    stats: await uas.stats(),
  };
}

type Responses = Record<string, { status: string; headers: string[] }>;

/** Runs a UAC scenario (service "bob") against a responder that answers each method as given. */
async function probe(
  t: TestContext,
  name: string,
  transport: SippTransport,
  responses: Responses,
): Promise<{ result: SippResult; requests: string[]; target: string }> {
  const ports = await freePortBlock(PORT_BLOCK);
  const responder = await startResponder(t, transport, ports + UAS, responses);
  const target = `${LOOPBACK}:${ports + UAS}`;
  const result = await runSippUac(t, {
    scenario: scenario(name),
    target,
    service: 'bob',
    transport,
    port: ports + UAC,
    mediaPort: ports + UAC_MEDIA,
    timeoutSeconds: 4,
  });
  return { result, requests: responder.requests, target };
}

/**
 * A minimal stateless SIP responder on 127.0.0.1:port (UDP or TCP): answers each request with the
 * status and extra header lines given for its method, copying Via, From, Call-ID and CSeq, and To
 * with a tag. Requests with other methods get no answer. Stopped when the test ends.
 */
async function startResponder(
  t: TestContext,
  transport: SippTransport,
  port: number,
  responses: Responses,
): Promise<{ requests: string[] }> {
  const requests: string[] = [];
  const answer = (request: string): string | null => {
    requests.push(request);
    const [head = ''] = request.split('\r\n\r\n', 1);
    const lines = head.split('\r\n');
    const method = lines[0]?.split(' ', 1)[0] ?? '';
    const response = responses[method];
    if (!response) return null;
    const copied = lines.slice(1).filter((line) => /^(Via|v|From|f|Call-ID|i|CSeq)\s*:/i.test(line));
    const to = lines.find((line) => /^(To|t)\s*:/i.test(line)) ?? 'To: <sip:unknown@invalid>';
    return [`SIP/2.0 ${response.status}`, ...copied, `${to};tag=responder`, ...response.headers, 'Content-Length: 0', '', ''].join('\r\n');
  };

  if (transport === 'udp') {
    const socket = createSocket('udp4');
    socket.on('message', (data: Buffer, from: RemoteInfo) => {
      const reply = answer(data.toString('utf8'));
      if (reply) socket.send(reply, from.port, from.address);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, LOOPBACK, resolve);
    });
    t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  } else {
    const connections = new Set<Socket>();
    const server = createServer((connection) => {
      connections.add(connection);
      connection.on('close', () => connections.delete(connection));
      connection.on('error', () => connection.destroy());
      let buffer = '';
      connection.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        for (;;) {
          const end = buffer.indexOf('\r\n\r\n');
          if (end < 0) return;
          const length = Number(/\r\n(?:Content-Length|l)\s*:\s*(\d+)/i.exec(buffer.slice(0, end + 2))?.[1] ?? 0);
          if (buffer.length < end + 4 + length) return;
          const request = buffer.slice(0, end + 4 + length);
          buffer = buffer.slice(end + 4 + length);
          const reply = answer(request);
          if (reply) connection.write(reply);
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, LOOPBACK, resolve);
    });
    t.after(() => {
      for (const connection of connections) connection.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
  }
  return { requests };
}
