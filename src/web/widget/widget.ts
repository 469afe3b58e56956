/**
 * The dial button (issue 6), embedded with one tag:
 *
 *   <script src="https://HOST/widget.js" data-button="btn_…" async></script>
 *
 * It renders into a shadow root next to its script tag, so that the page's CSS cannot break it
 * and it cannot break the page; a real <button>, a labelled input and an aria-live status keep it
 * usable with a keyboard and a screen reader. The visitor gives their number; the service calls
 * them, then the button's destination; the status follows the call over server-sent events.
 * No framework, no dependency: the budget is 12 KiB gzipped (a test measures it).
 */

type PublicStatus = 'queued' | 'calling_you' | 'connecting' | 'connected' | 'completed' | 'not_reached' | 'unavailable' | 'failed';

interface PublicButton {
  label: string;
  colors: { background: string; text: string };
  available: boolean;
  unavailableReason: 'disabled' | 'outside_business_hours' | null;
}

interface Problem {
  code?: string;
  detail?: string;
}

const STYLE = `
:host{all:initial;display:inline-block;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827}
form{display:flex;flex-wrap:wrap;gap:.5em;align-items:flex-end;margin:0}
label{display:flex;flex-direction:column;gap:.25em;font-size:.85em}
input{font:inherit;padding:.5em .6em;border:1px solid #9ca3af;border-radius:.4em;min-width:13em;background:#fff;color:#111827}
input:focus-visible,button:focus-visible{outline:3px solid #2563eb;outline-offset:2px}
button{font:inherit;font-weight:600;padding:.55em 1.1em;border:0;border-radius:.4em;cursor:pointer;background:var(--bg);color:var(--fg)}
button[disabled]{opacity:.55;cursor:not-allowed}
p{flex-basis:100%;margin:.25em 0 0;min-height:1.4em;font-size:.9em}
p[data-tone=error]{color:#b91c1c}
p[data-tone=ok]{color:#15803d}
`;

const FINAL: ReadonlySet<PublicStatus> = new Set(['completed', 'not_reached', 'unavailable', 'failed']);

function statusText(status: PublicStatus, label: string): string {
  switch (status) {
    case 'queued':
    case 'calling_you':
      return 'Calling you…';
    case 'connecting':
      return `Connecting you to ${label}…`;
    case 'connected':
      return 'Connected';
    case 'completed':
      return 'Call ended. Thank you!';
    case 'not_reached':
      return 'We could not reach you';
    case 'unavailable':
      return `${label} is not available right now`;
    default:
      return 'The call could not be placed';
  }
}

/** Spaces, dots, dashes and brackets go; a leading 00 is the international prefix. */
export function normaliseNumber(typed: string): string {
  const trimmed = typed.trim();
  if (/^sips?:/i.test(trimmed)) return trimmed;
  const compact = trimmed.replace(/[\s().-]/g, '');
  return compact.startsWith('00') ? `+${compact.slice(2)}` : compact;
}

function refusalText(status: number, problem: Problem, retryAfter: string | null): string {
  if (status === 429) {
    const seconds = Number(retryAfter);
    const minutes = Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds / 60) : 0;
    return minutes > 0 ? `Too many attempts. Please try again in ${minutes} minute${minutes === 1 ? '' : 's'}.` : 'Too many attempts. Please try again later.';
  }
  if (problem.code === 'outside_business_hours') return 'Outside business hours';
  if (problem.code === 'origin_not_allowed') return 'This button is not enabled on this site';
  if (problem.code === 'button_disabled') return 'This button is not taking calls right now';
  if (status === 422) return 'Please check your number: international format, such as +33 6 12 34 56 78';
  return 'Something went wrong. Please try again later.';
}

function mount(script: HTMLScriptElement): void {
  const buttonId = script.dataset.button ?? '';
  const base = new URL(script.src, location.href).origin;
  const host = document.createElement('div');
  host.className = 'ctd-dial-button';
  script.after(host);
  const root = host.attachShadow({ mode: 'open' });
  const inputId = `ctd-number-${buttonId}`;
  root.innerHTML = `<style>${STYLE}</style><form novalidate><label for="${inputId}">Your phone number<input id="${inputId}" name="number" type="tel" autocomplete="tel" inputmode="tel" placeholder="+33 6 12 34 56 78" required maxlength="64"></label><button type="submit" disabled>…</button><p role="status" aria-live="polite"></p></form>`;
  const form = root.querySelector('form')!;
  const input = root.querySelector('input')!;
  const button = root.querySelector('button')!;
  const status = root.querySelector('p')!;
  let label = 'us';
  let busy = false;

  const say = (text: string, tone: 'info' | 'error' | 'ok' = 'info'): void => {
    status.textContent = text;
    status.dataset.tone = tone;
  };
  const idle = (): void => {
    busy = false;
    button.disabled = false;
  };

  const follow = (eventsUrl: string, statusUrl: string): void => {
    const show = (next: PublicStatus): boolean => {
      const final = FINAL.has(next);
      say(statusText(next, label), next === 'connected' ? 'ok' : final && next !== 'completed' ? 'error' : 'info');
      if (final) idle();
      return final;
    };
    // Without EventSource, or when the stream is refused for good: poll the status.
    const poll = async (): Promise<void> => {
      try {
        const response = await fetch(`${base}${statusUrl}`, { credentials: 'omit' });
        const data = (await response.json()) as { status: PublicStatus };
        if (!show(data.status)) setTimeout(() => void poll(), 1500);
      } catch {
        say('We lost track of the call. It may still ring.', 'error');
        idle();
      }
    };
    if (typeof EventSource !== 'function') return void poll();
    const events = new EventSource(`${base}${eventsUrl}`);
    events.addEventListener('status', (event) => {
      const data = JSON.parse((event as MessageEvent<string>).data) as { status: PublicStatus };
      if (show(data.status)) events.close();
    });
    // A dropped stream is reopened by EventSource itself; a refused one (not 200) is closed.
    events.addEventListener('error', () => {
      if (events.readyState === EventSource.CLOSED) void poll();
    });
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (busy) return;
    const number = normaliseNumber(input.value);
    if (!/^(\+[1-9][0-9]{1,14}|sips?:\S+)$/.test(number)) {
      say('Please enter your number in international format, such as +33 6 12 34 56 78', 'error');
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    input.removeAttribute('aria-invalid');
    busy = true;
    button.disabled = true;
    say('Calling you…');
    void (async () => {
      try {
        const response = await fetch(`${base}/v1/public/buttons/${encodeURIComponent(buttonId)}/calls`, {
          method: 'POST',
          credentials: 'omit',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ number }),
        });
        if (response.status !== 202) {
          const problem = (await response.json().catch(() => ({}))) as Problem;
          say(refusalText(response.status, problem, response.headers.get('Retry-After')), 'error');
          idle();
          return;
        }
        const ticket = (await response.json()) as { eventsUrl: string; statusUrl: string };
        follow(ticket.eventsUrl, ticket.statusUrl);
      } catch {
        say('Something went wrong. Please try again later.', 'error');
        idle();
      }
    })();
  });

  void (async () => {
    try {
      const response = await fetch(`${base}/v1/public/buttons/${encodeURIComponent(buttonId)}`, { credentials: 'omit' });
      if (!response.ok) {
        const problem = (await response.json().catch(() => ({}))) as Problem;
        button.textContent = 'Call me';
        say(refusalText(response.status, problem, null), 'error');
        return;
      }
      const shown = (await response.json()) as PublicButton;
      label = shown.label;
      button.textContent = shown.label;
      host.style.setProperty('--bg', shown.colors.background);
      host.style.setProperty('--fg', shown.colors.text);
      if (shown.available) button.disabled = false;
      else say(shown.unavailableReason === 'outside_business_hours' ? 'Outside business hours' : 'This button is not taking calls right now', 'error');
    } catch {
      button.textContent = 'Call me';
      say('This button is not available right now', 'error');
    }
  })();
}

const current = document.currentScript;
const scripts = current instanceof HTMLScriptElement && current.dataset.button ? [current] : [...document.querySelectorAll<HTMLScriptElement>('script[data-button]:not([data-ctd-mounted])')];
for (const script of scripts) {
  if (script.dataset.ctdMounted) continue;
  script.dataset.ctdMounted = 'true';
  mount(script);
}
