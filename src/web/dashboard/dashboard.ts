/**
 * The operators' dashboard (issue 6), served at /dashboard: sign in with an API key (kept in
 * sessionStorage only: gone when the tab closes), a live list of calls with filters, and a call's
 * page with its event timeline and its SIP ladder drawn from GET /v1/calls/{id}/sip: one column per
 * party (A, the service, B, and proxies where the next hop is not the party), one arrow per message
 * with its first line and time; clicking an arrow shows the whole message. Plain DOM, no framework;
 * data from the API is only ever written as text (textContent), never as HTML.
 */

interface Leg {
  uri: string;
  status: string;
  sipCode: number | null;
  sipReason: string | null;
}
interface Call {
  id: string;
  status: string;
  a: Leg;
  b: Leg;
  createdAt: string;
  connectedAt: string | null;
  endedAt: string | null;
  duration: number | null;
  endReason: string | null;
  metadata: Record<string, unknown>;
}
interface CallEvent {
  sequence: number;
  type: string;
  leg: 'a' | 'b' | null;
  status: string | null;
  sip: { code: number; reason: string } | null;
  endReason: string | null;
  createdAt: string;
}
/** What the dashboard shows of a webhook delivery (GET /v1/calls/{id}/webhook-deliveries). */
interface WebhookDelivery {
  eventType: string;
  endpoint: string | null;
  url: string | null;
  status: string;
  attempts: number;
  responseStatus: number | null;
  error: string | null;
  deliveredAt: string | null;
}
export interface SipLine {
  leg: 'a' | 'b';
  direction: 'in' | 'out';
  at: string;
  peer: string;
  line: string;
  message: string | null;
}

const KEY_STORAGE = 'ctd.apiKey';
const POLL_MS = 2000;
const FINAL = new Set(['completed', 'failed', 'canceled']);
const SVG = 'http://www.w3.org/2000/svg';

const app = document.getElementById('app')!;
const signOut = document.getElementById('sign-out') as HTMLButtonElement;
let stopPolling: (() => void) | undefined;

class Unauthorized extends Error {}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number> = {}, text?: string): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

async function api<T>(path: string): Promise<T> {
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (!key) throw new Unauthorized();
  const response = await fetch(path, { headers: { Authorization: `Bearer ${key}` }, cache: 'no-store' });
  if (response.status === 401) throw new Unauthorized();
  if (!response.ok) {
    const problem = (await response.json().catch(() => ({}))) as { detail?: string };
    throw new Error(problem.detail ?? `${response.status} ${response.statusText}`);
  }
  return (await response.json()) as T;
}

function statusBadge(status: string): HTMLElement {
  return el('span', { class: `status ${status}` }, status);
}

function time(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : '—';
}

function show(...nodes: Node[]): void {
  stopPolling?.();
  stopPolling = undefined;
  app.replaceChildren(...nodes);
}

/** Runs `refresh` now and every POLL_MS until the page changes or it returns false. */
function poll(refresh: () => Promise<boolean>): void {
  let timer: number | undefined;
  let stopped = false;
  const tick = async (): Promise<void> => {
    let again = true;
    try {
      again = await refresh();
    } catch (error) {
      if (error instanceof Unauthorized) return signIn('Your API key was refused. Sign in again.');
    }
    if (!stopped && again) timer = window.setTimeout(() => void tick(), POLL_MS);
  };
  stopPolling = () => {
    stopped = true;
    window.clearTimeout(timer);
  };
  void tick();
}

// ---- sign in ------------------------------------------------------------------------------

function signIn(message?: string): void {
  sessionStorage.removeItem(KEY_STORAGE);
  signOut.hidden = true;
  const input = el('input', { id: 'api-key', name: 'apiKey', type: 'password', autocomplete: 'off', required: '', spellcheck: 'false' });
  const error = el('p', { class: 'error', role: 'alert' }, message ?? '');
  const form = el('form', { class: 'sign-in' }, el('label', { for: 'api-key' }, 'API key', input), el('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, input.value.trim());
    api('/v1/calls?limit=1').then(
      () => route(),
      (failure: unknown) => {
        sessionStorage.removeItem(KEY_STORAGE);
        error.textContent = failure instanceof Unauthorized ? 'This API key is not valid.' : `Cannot reach the API: ${(failure as Error).message}`;
      },
    );
  });
  show(el('h1', {}, 'Sign in'), el('p', { class: 'muted' }, 'The key stays in this browser tab only (sessionStorage).'), form, error);
  input.focus();
}

// ---- the list of calls ----------------------------------------------------------------------

function callList(): void {
  const status = el('select', { id: 'filter-status', name: 'status' }, el('option', { value: '' }, 'any'));
  for (const value of ['queued', 'calling_a', 'calling_b', 'connected', 'completed', 'failed', 'canceled']) status.append(el('option', { value }, value));
  const after = el('input', { id: 'filter-after', name: 'createdAfter', type: 'datetime-local' });
  const party = el('input', { id: 'filter-party', name: 'party', type: 'search', placeholder: 'sip:… or +33…' });
  const filters = el(
    'form',
    { class: 'filters', role: 'search' },
    el('label', { for: 'filter-status' }, 'Status', status),
    el('label', { for: 'filter-after' }, 'Created after', after),
    el('label', { for: 'filter-party' }, 'Party contains', party),
  );
  const body = el('tbody');
  const table = el(
    'table',
    { 'aria-label': 'Calls' },
    el('thead', {}, el('tr', {}, ...['Created', 'Status', 'A', 'B', 'Duration', 'End reason'].map((name) => el('th', { scope: 'col' }, name)))),
    body,
  );
  const note = el('p', { class: 'muted', 'aria-live': 'polite' });
  show(el('h1', {}, 'Calls'), filters, table, note);

  const refresh = async (): Promise<boolean> => {
    const query = new URLSearchParams({ limit: '50' });
    if (status.value) query.set('status', status.value);
    if (after.value) query.set('createdAfter', new Date(after.value).toISOString());
    const page = await api<{ data: Call[]; hasMore: boolean }>(`/v1/calls?${query.toString()}`);
    const needle = party.value.trim().toLowerCase();
    const calls = needle ? page.data.filter((call) => call.a.uri.toLowerCase().includes(needle) || call.b.uri.toLowerCase().includes(needle)) : page.data;
    body.replaceChildren(
      ...calls.map((call) =>
        el(
          'tr',
          { 'data-call': call.id },
          el('td', {}, el('a', { href: `#/calls/${call.id}` }, time(call.createdAt))),
          el('td', {}, statusBadge(call.status)),
          el('td', { class: 'mono' }, call.a.uri),
          el('td', { class: 'mono' }, call.b.uri),
          el('td', {}, call.duration === null ? (call.connectedAt ? 'live' : '—') : `${call.duration} s`),
          el('td', {}, call.endReason ?? ''),
        ),
      ),
    );
    note.textContent = calls.length === 0 ? 'No calls match.' : `${calls.length} call${calls.length === 1 ? '' : 's'}${page.hasMore ? ' (the newest 50)' : ''}, refreshed ${new Date().toLocaleTimeString()}.`;
    return true;
  };
  for (const input of [status, after, party]) input.addEventListener('change', () => void refresh());
  party.addEventListener('input', () => void refresh());
  poll(refresh);
}

// ---- one call -------------------------------------------------------------------------------

/** host:port of a SIP URI (`sip:bob@192.0.2.1:5070;transport=tcp` → 192.0.2.1:5070), 5060 by default. */
function uriHostPort(uri: string): string | undefined {
  const match = /^sips?:(?:[^@]*@)?(\[[^\]]+\]|[^:;>?]+)(?::(\d+))?/.exec(uri.replace(/^<|>$/g, ''));
  return match ? `${match[1]}:${match[2] ?? '5060'}` : undefined;
}

interface Column {
  key: string;
  title: string;
  detail: string;
}

/**
 * The ladder's columns: A's side (its party, and the proxy when the next hop is not the party),
 * the service, then B's side. The party a leg's INVITE was for is its Request-URI; the next hop is
 * the peer the messages went to.
 */
export function ladderColumns(lines: readonly SipLine[], call: Pick<Call, 'a' | 'b'>): { columns: Column[]; columnOf: (line: SipLine) => number } {
  const side = (leg: 'a' | 'b'): Column[] => {
    const peers = [...new Set(lines.filter((line) => line.leg === leg).map((line) => line.peer.replace(/^(udp|tcp|tls):/, '')))];
    const invite = lines.find((line) => line.leg === leg && line.direction === 'out' && line.line.startsWith('INVITE '));
    const target = invite ? uriHostPort(invite.line.slice('INVITE '.length)) : undefined;
    const name = leg.toUpperCase();
    const columns: Column[] = [];
    for (const peer of peers) {
      if (target && peer !== target) columns.push({ key: `${leg}:${peer}`, title: `Proxy (${name})`, detail: peer });
      else columns.push({ key: `${leg}:${peer}`, title: name, detail: peer });
    }
    if (columns.length === 0 || columns.every((column) => column.title !== name)) columns.push({ key: `${leg}:party`, title: name, detail: call[leg].uri });
    return columns;
  };
  const a = side('a');
  // A's side reads outward to the left: the party first, its proxy next to the service.
  a.sort((x, y) => (x.title === 'A' ? -1 : y.title === 'A' ? 1 : 0));
  const b = side('b').sort((x, y) => (x.title === 'B' ? 1 : y.title === 'B' ? -1 : 0));
  const columns = [...a, { key: 'service', title: 'Service', detail: 'click-to-dial' }, ...b];
  const index = new Map(columns.map((column, i) => [column.key, i]));
  return { columns, columnOf: (line) => index.get(`${line.leg}:${line.peer.replace(/^(udp|tcp|tls):/, '')}`) ?? 0 };
}

function ladder(lines: readonly SipLine[], call: Call, onSelect: (line: SipLine, index: number) => void): SVGSVGElement {
  const { columns, columnOf } = ladderColumns(lines, call);
  const service = columns.findIndex((column) => column.key === 'service');
  const columnWidth = 230;
  const top = 56;
  const row = 34;
  const width = columns.length * columnWidth;
  const height = top + lines.length * row + 20;
  const x = (i: number): number => columnWidth / 2 + i * columnWidth;
  const drawing = svg('svg', { class: 'ladder', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `SIP ladder: ${lines.length} messages` });
  columns.forEach((column, i) => {
    drawing.append(svg('text', { class: 'party', x: x(i), y: 18, 'text-anchor': 'middle' }, column.title));
    drawing.append(svg('text', { class: 'time', x: x(i), y: 34, 'text-anchor': 'middle' }, column.detail.length > 30 ? `${column.detail.slice(0, 29)}…` : column.detail));
    drawing.append(svg('line', { class: 'lifeline', x1: x(i), y1: 42, x2: x(i), y2: height - 8 }));
  });
  const start = lines.length > 0 ? Date.parse(lines[0]!.at) : 0;
  lines.forEach((line, index) => {
    const peer = columnOf(line);
    const from = line.direction === 'out' ? service : peer;
    const to = line.direction === 'out' ? peer : service;
    const y = top + index * row + 16;
    const x1 = x(from);
    const x2 = x(to);
    const head = x2 > x1 ? -8 : 8;
    const isResponse = /^\d{3} /.test(line.line);
    const group = svg('g', { class: `arrow${isResponse ? ' response' : ''}`, tabindex: 0, role: 'button', 'data-index': index, 'aria-label': `${line.direction === 'out' ? 'Sent' : 'Received'} ${line.line}` });
    const offset = `+${((Date.parse(line.at) - start) / 1000).toFixed(3)} s`;
    const label = line.line.length > 34 ? `${line.line.slice(0, 33)}…` : line.line;
    group.append(
      svg('line', { x1, y1: y, x2: x2 + head, y2: y }),
      svg('polygon', { points: `${x2},${y} ${x2 + head},${y - 4} ${x2 + head},${y + 4}` }),
      svg('text', { x: (x1 + x2) / 2, y: y - 5, 'text-anchor': 'middle' }, label),
      svg('text', { class: 'time', x: Math.min(x1, x2) + 4, y: y + 13 }, offset),
      svg('title', {}, `${line.line}\n${line.at}`),
    );
    const select = (): void => {
      drawing.querySelectorAll('g.arrow.selected').forEach((other) => other.classList.remove('selected'));
      group.classList.add('selected');
      onSelect(line, index);
    };
    group.addEventListener('click', select);
    group.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        select();
      }
    });
    drawing.append(group);
  });
  return drawing;
}

function callPage(id: string): void {
  const heading = el('h1', {}, `Call ${id}`);
  const summary = el('dl', { class: 'summary' });
  const timeline = el('ol', { class: 'timeline', 'aria-label': 'Events' });
  const deliveries = el('table', { class: 'deliveries', 'aria-label': 'Webhook deliveries' });
  const ladderWrap = el('div', { class: 'ladder-wrap' });
  const message = el('pre', { class: 'sip', id: 'sip-message', 'aria-live': 'polite', hidden: '' });
  const error = el('p', { class: 'error', role: 'alert' });
  show(
    el('p', {}, el('a', { href: '#/calls' }, '← All calls')),
    heading,
    error,
    summary,
    el('h2', {}, 'Events'),
    timeline,
    el('h2', {}, 'Webhook deliveries'),
    deliveries,
    el('h2', {}, 'SIP ladder'),
    el('p', { class: 'muted' }, 'Select an arrow to read the whole message.'),
    ladderWrap,
    message,
  );
  let drawn = -1;
  poll(async () => {
    try {
      const [call, events, sip, sent] = await Promise.all([
        api<Call>(`/v1/calls/${encodeURIComponent(id)}`),
        api<{ data: CallEvent[] }>(`/v1/calls/${encodeURIComponent(id)}/events`),
        api<{ data: SipLine[] }>(`/v1/calls/${encodeURIComponent(id)}/sip`),
        api<{ data: WebhookDelivery[] }>(`/v1/calls/${encodeURIComponent(id)}/webhook-deliveries`),
      ]);
      deliveries.replaceChildren(
        el('tr', {}, ...['Event', 'To', 'Status', 'Attempts', 'Last answer', 'Delivered'].map((title) => el('th', { scope: 'col' }, title))),
        ...(sent.data.length === 0
          ? [el('tr', {}, el('td', { colspan: '6', class: 'muted' }, 'No webhook deliveries for this call.'))]
          : sent.data.map((delivery) =>
              el(
                'tr',
                {},
                el('td', { class: 'mono' }, delivery.eventType),
                el('td', { class: 'mono' }, delivery.endpoint ?? delivery.url ?? '—'),
                el('td', {}, delivery.status),
                el('td', {}, String(delivery.attempts)),
                el('td', {}, delivery.responseStatus === null ? (delivery.error ?? '—') : String(delivery.responseStatus)),
                el('td', {}, time(delivery.deliveredAt)),
              ),
            )),
      );
      const rows: [string, Node | string][] = [
        ['Status', statusBadge(call.status)],
        ['A', `${call.a.uri} (${call.a.status}${call.a.sipCode ? `, ${call.a.sipCode} ${call.a.sipReason ?? ''}` : ''})`],
        ['B', `${call.b.uri} (${call.b.status}${call.b.sipCode ? `, ${call.b.sipCode} ${call.b.sipReason ?? ''}` : ''})`],
        ['Created', time(call.createdAt)],
        ['Connected', time(call.connectedAt)],
        ['Ended', time(call.endedAt)],
        ['Duration', call.duration === null ? '—' : `${call.duration} s`],
        ['End reason', call.endReason ?? '—'],
      ];
      if (Object.keys(call.metadata).length > 0) rows.push(['Metadata', JSON.stringify(call.metadata)]);
      summary.replaceChildren(...rows.flatMap(([name, value]) => [el('dt', {}, name), el('dd', {}, value)]));
      timeline.replaceChildren(
        ...events.data.map((event) =>
          el(
            'li',
            {},
            el('span', { class: 'mono' }, `${new Date(event.createdAt).toLocaleTimeString()} `),
            `${event.type}${event.leg ? ` (${event.leg})` : ''}${event.sip ? ` ${event.sip.code} ${event.sip.reason}` : ''}${event.endReason ? `: ${event.endReason}` : ''}`,
          ),
        ),
      );
      if (sip.data.length !== drawn) {
        drawn = sip.data.length;
        ladderWrap.replaceChildren(
          ladder(sip.data, call, (line) => {
            message.hidden = false;
            message.textContent = line.message ?? `${line.line}\n\n(the whole message was not kept for this call)`;
          }),
        );
      }
      error.textContent = '';
      return !FINAL.has(call.status) || drawn === 0;
    } catch (failure) {
      if (failure instanceof Unauthorized) throw failure;
      error.textContent = (failure as Error).message;
      return false;
    }
  });
}

// ---- routing --------------------------------------------------------------------------------

function route(): void {
  if (!sessionStorage.getItem(KEY_STORAGE)) return signIn();
  signOut.hidden = false;
  const match = /^#\/calls\/(call_[A-Za-z0-9]+)$/.exec(location.hash);
  if (match) callPage(match[1]!);
  else callList();
}

signOut.addEventListener('click', () => {
  sessionStorage.removeItem(KEY_STORAGE);
  location.hash = '#/calls';
  signIn();
});
window.addEventListener('hashchange', route);
route();
