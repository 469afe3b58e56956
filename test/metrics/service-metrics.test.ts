// The process's Prometheus metrics: call counters and set-up time from the engine's events, the
// SIP stack's own traffic counters read at scrape time, queue depths, the exposition format.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CallEvent } from '../../src/engine/index.js';
import { ServiceMetrics } from '../../src/metrics/index.js';
import { SipTraffic, parseMessage, type SipMessageAny } from '../../src/sip/index.js';

function status(callId: string, seq: number, value: string, at: number, endReason?: string): CallEvent {
  return { type: 'call.status', callId, seq, at, status: value, ...(endReason ? { endReason } : {}) } as CallEvent;
}

/** The value of one series, e.g. sample(text, 'ctd_calls_ended_total{status="failed",end_reason="a_busy"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const INVITE = parseMessage(Buffer.from(
  'INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\n' +
    'Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n',
)) as SipMessageAny;
const RINGING = parseMessage(Buffer.from(
  'SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:bob@127.0.0.1>;tag=2\r\n' +
    'Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n',
)) as SipMessageAny;

describe('service metrics', () => {
  test('calls started, connected and ended by status and end reason; set-up time from acceptance to connected', async () => {
    const metrics = new ServiceMetrics({ processMetrics: false });
    metrics.callAccepted('call_1', 1_000);
    for (const event of [status('call_1', 1, 'calling_a', 1_010), status('call_1', 2, 'calling_b', 1_500), status('call_1', 3, 'connected', 3_500), status('call_1', 4, 'completed', 9_000, 'a_hangup')]) {
      metrics.observeEvent(event);
    }
    metrics.callAccepted('call_2', 2_000);
    metrics.observeEvent(status('call_2', 1, 'calling_a', 2_001));
    metrics.observeEvent(status('call_2', 2, 'failed', 2_100, 'a_busy'));
    const { text, contentType } = await metrics.exposition();
    assert.match(contentType, /^text\/plain/);
    assert.equal(sample(text, 'ctd_calls_started_total'), 2);
    assert.equal(sample(text, 'ctd_calls_connected_total'), 1);
    assert.equal(sample(text, 'ctd_calls_ended_total{status="completed",end_reason="a_hangup"}'), 1);
    assert.equal(sample(text, 'ctd_calls_ended_total{status="failed",end_reason="a_busy"}'), 1);
    assert.equal(sample(text, 'ctd_call_setup_seconds_count'), 1, 'only the connected call has a set-up time');
    assert.equal(sample(text, 'ctd_call_setup_seconds_sum'), 2.5);
    assert.equal(sample(text, 'ctd_call_setup_seconds_bucket{le="2"}'), 0);
    assert.equal(sample(text, 'ctd_call_setup_seconds_bucket{le="3"}'), 1);
  });

  test('dispatch time: from the request to the engine starting the first INVITE, in buckets fine below 50 ms', async () => {
    const metrics = new ServiceMetrics({ processMetrics: false });
    metrics.callDispatched(10_000, 10_012);
    metrics.callDispatched(20_000, 20_045);
    metrics.callDispatched(30_000, 30_300);
    const { text } = await metrics.exposition();
    assert.equal(sample(text, 'ctd_call_dispatch_seconds_count'), 3);
    assert.equal(sample(text, 'ctd_call_dispatch_seconds_bucket{le="0.01"}'), 0);
    assert.equal(sample(text, 'ctd_call_dispatch_seconds_bucket{le="0.015"}'), 1);
    assert.equal(sample(text, 'ctd_call_dispatch_seconds_bucket{le="0.05"}'), 2);
    assert.equal(sample(text, 'ctd_call_dispatch_seconds_bucket{le="0.5"}'), 3);
  });

  test('SIP messages, retransmissions and timeouts come from the stack\'s counters at each scrape; live calls and queue depths too', async () => {
    const traffic = new SipTraffic();
    const engine = { liveCalls: 3, sipTraffic: traffic };
    const metrics = new ServiceMetrics({ processMetrics: false, labels: { engine: 'e1' } });
    metrics.watchEngine(engine);
    metrics.watchQueues(async () => [{ queue: 'originate', state: 'waiting', count: 7 }]);
    traffic.noteSent(INVITE);
    traffic.noteSent(INVITE);
    traffic.noteSent(INVITE);
    traffic.noteReceived(RINGING);
    traffic.noteTimeout('INVITE');
    let { text } = await metrics.exposition();
    assert.equal(sample(text, 'ctd_active_calls{engine="e1"}'), 3);
    assert.equal(sample(text, 'ctd_sip_messages_total{direction="out",kind="request",method="INVITE",engine="e1"}'), 1);
    assert.equal(sample(text, 'ctd_sip_messages_total{direction="in",kind="response",method="INVITE",engine="e1"}'), 1);
    assert.equal(sample(text, 'ctd_sip_retransmissions_total{direction="out",method="INVITE",engine="e1"}'), 2);
    assert.equal(sample(text, 'ctd_sip_transaction_timeouts_total{method="INVITE",engine="e1"}'), 1);
    assert.equal(sample(text, 'ctd_queue_jobs{queue="originate",state="waiting",engine="e1"}'), 7);
    traffic.noteSent(RINGING);
    ({ text } = await metrics.exposition());
    assert.equal(sample(text, 'ctd_sip_messages_total{direction="out",kind="response",method="INVITE",engine="e1"}'), 1);
    assert.equal(sample(text, 'ctd_sip_messages_total{direction="out",kind="request",method="INVITE",engine="e1"}'), 1, 'read again, not added again');
  });

  test('webhook deliveries by outcome, with the delay of the delivered ones', async () => {
    const metrics = new ServiceMetrics({ processMetrics: false });
    metrics.observeWebhookDelivery('delivered', 40);
    metrics.observeWebhookDelivery('failed');
    const { text } = await metrics.exposition();
    assert.equal(sample(text, 'ctd_webhook_deliveries_total{outcome="delivered"}'), 1);
    assert.equal(sample(text, 'ctd_webhook_deliveries_total{outcome="failed"}'), 1);
    assert.equal(sample(text, 'ctd_webhook_delivery_delay_seconds_count'), 1);
  });
});

describe('the sample Grafana dashboard and the operations guide', () => {
  test('name only metrics this service exposes', async () => {
    const { readFileSync } = await import('node:fs');
    const metrics = new ServiceMetrics();
    const exposed = new Set((await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name));
    const known = (name: string) => exposed.has(name) || exposed.has(name.replace(/_(bucket|sum|count)$/, ''));
    const dashboard = JSON.parse(readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
    const used = new Set(dashboard.panels.flatMap((panel) => panel.targets.flatMap((target) => target.expr.match(/\b(ctd|nodejs|process)_[a-z0-9_]+/g) ?? [])));
    assert.ok(used.size >= 10);
    assert.deepEqual([...used].filter((name) => !known(name)), []);
    const guide = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const named = new Set(guide.match(/\bctd_[a-z0-9_]+/g) ?? []);
    assert.deepEqual([...named].filter((name) => !known(name)), []);
  });
});
