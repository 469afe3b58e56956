/**
 * Header names: the compact forms of RFC 3261 §7.3.3 (and later RFCs), the spelling we write,
 * and which headers may carry comma-separated lists (RFC 3261 §7.3.1).
 */

const COMPACT: Record<string, string> = {
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  n: 'identity-info',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
};

const SPELLING: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  rack: 'RAck',
  rseq: 'RSeq',
  'p-asserted-identity': 'P-Asserted-Identity',
  'p-preferred-identity': 'P-Preferred-Identity',
};

/** Headers whose value is a comma-separated list (those that are not are never split). */
const LIST_HEADERS = new Set([
  'via',
  'contact',
  'route',
  'record-route',
  'allow',
  'allow-events',
  'supported',
  'require',
  'proxy-require',
  'unsupported',
  'accept',
  'accept-encoding',
  'accept-language',
  'content-encoding',
  'content-language',
  'in-reply-to',
  'alert-info',
  'call-info',
  'error-info',
  'warning',
  'reason',
  'p-asserted-identity',
  'path',
  'service-route',
]);

/** Headers that RFC 3261 allows only once in a message. */
export const SINGLE_HEADERS = ['call-id', 'cseq', 'from', 'to', 'max-forwards', 'content-length', 'content-type'];

const nameCache = new Map<string, string>();
const displayCache = new Map<string, string>();

// The spellings nearly every message uses, compared by length first: cheaper than hashing.
const COMMON: string[][] = [];

/** A header name as it is commonly written, with its canonical name. */
export interface CommonHeaderName {
  spelling: string;
  name: string;
}

const COMMON_BY_LENGTH: CommonHeaderName[][] = [];
for (const name of ['via', 'from', 'to', 'call-id', 'cseq', 'contact', 'max-forwards', 'content-length',
  'content-type', 'record-route', 'route', 'allow', 'supported', 'user-agent', 'expires', 'require',
  'server', 'session-expires', 'min-se', 'accept', 'allow-events', 'content-disposition', 'reason', 'rseq', 'rack']) {
  for (const spelling of new Set([name, displayName(name)])) {
    (COMMON[spelling.length] ??= []).push(spelling, name);
    (COMMON_BY_LENGTH[spelling.length] ??= []).push({ spelling, name });
  }
}
for (const [letter, name] of Object.entries(COMPACT)) {
  for (const spelling of [letter, letter.toUpperCase()]) (COMMON_BY_LENGTH[1] ??= []).push({ spelling, name });
}

/**
 * The common header name written at `text[start, start + length)`, if it is one: the parser
 * finds names this way without cutting them out of the message first.
 */
export function commonHeaderNameAt(text: string, start: number, length: number): CommonHeaderName | undefined {
  const bucket = COMMON_BY_LENGTH[length];
  if (bucket === undefined) return undefined;
  for (let i = 0; i < bucket.length; i++) {
    const entry = bucket[i]!;
    if (text.startsWith(entry.spelling, start)) return entry;
  }
  return undefined;
}

/** The canonical lower-case long name of a header name as written. */
export function canonicalName(written: string): string {
  const candidates = COMMON[written.length];
  if (candidates !== undefined) {
    for (let i = 0; i < candidates.length; i += 2) if (candidates[i] === written) return candidates[i + 1]!;
  }
  let name = nameCache.get(written);
  if (name !== undefined) return name;
  const lower = written.toLowerCase();
  name = lower.length === 1 ? (COMPACT[lower] ?? lower) : lower;
  if (nameCache.size < 1024) nameCache.set(written, name);
  return name;
}

/** How we write a header name: its usual capitalisation (`Call-ID`, `Max-Forwards`). */
export function displayName(canonical: string): string {
  let display = displayCache.get(canonical);
  if (display !== undefined) return display;
  display = SPELLING[canonical] || canonical.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
  // Every message is written with these: remember the names seen (a bounded number of them).
  if (displayCache.size < 1024) displayCache.set(canonical, display);
  return display;
}

export function isListHeader(canonical: string): boolean {
  return LIST_HEADERS.has(canonical);
}
