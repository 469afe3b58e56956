/**
 * The rules of a dial button (pure): which origins may use it, which visitor numbers it calls,
 * and when it is open. Abuse is the main risk of a public button (toll fraud, call bombing,
 * DESIGN.md "The dial button"), so every rule fails closed.
 */
import type { BusinessHours, Weekday } from '../store/index.js';
import type { FieldError } from './contract.js';

// ---- Origins --------------------------------------------------------------------------------

/**
 * Whether a request's `Origin` header is one of the button's origins: an exact match, or for
 * `https://*.example.com` a host that ends in `.example.com` (one label or more before it) with
 * the same scheme and port. `null`, absent and malformed origins never match.
 */
export function originAllowed(origin: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined || origin === 'null' || origin.length > 260) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  // An Origin is scheme://host[:port] exactly (RFC 6454 §6.2); anything else is forged or broken.
  if (url.origin !== origin) return false;
  for (const entry of allowed) {
    if (!entry.includes('*')) {
      if (entry === origin) return true;
      continue;
    }
    const match = /^(https?):\/\/\*\.([^:/]+)(?::(\d+))?$/.exec(entry);
    if (!match) continue;
    const [, scheme, suffix, port] = match;
    if (url.protocol !== `${scheme}:` || url.port !== (port ?? '')) continue;
    if (url.hostname.endsWith(`.${suffix!}`) && url.hostname.length > suffix!.length + 1) return true;
  }
  return false;
}

/** Field errors for a button's allowedOrigins beyond the contract's pattern: wildcards too broad. */
export function originErrors(origins: readonly string[], field = '/allowedOrigins'): FieldError[] {
  const errors: FieldError[] = [];
  origins.forEach((origin, index) => {
    const wildcard = /^https?:\/\/\*\.(.+?)(?::\d+)?$/.exec(origin);
    if (wildcard) {
      const suffix = wildcard[1]!;
      if (suffix.split('.').length < 2 || /^[0-9.]+$/.test(suffix)) {
        errors.push({ field: `${field}/${index}`, in: 'body', code: 'origin', message: 'a subdomain pattern needs a domain of two labels or more after *. (https://*.example.com)' });
      }
    }
    const port = /:(\d+)$/.exec(origin.replace(/^https?:\/\//, ''));
    if (port && Number(port[1]) > 65535) errors.push({ field: `${field}/${index}`, in: 'body', code: 'origin', message: 'has a port above 65535' });
  });
  return errors;
}

// ---- Visitor numbers ------------------------------------------------------------------------

export const MAX_PATTERN_LENGTH = 200;

/**
 * Why a number pattern is refused, or undefined when it is fine. Patterns come from account
 * owners but run on visitors' input in the API process, so they are held to what cannot blow up:
 * anchored, short, valid, no back-references, and no unbounded quantifier over a group that
 * itself repeats or alternates (`(a+)+`, `(a|a)*`: exponential backtracking).
 */
export function patternProblem(source: string): string | undefined {
  if (source.length > MAX_PATTERN_LENGTH) return `is longer than ${MAX_PATTERN_LENGTH} characters`;
  if (!source.startsWith('^') || !source.endsWith('$') || source.endsWith('\\$')) return 'must be anchored: start with ^ and end with $';
  try {
    new RegExp(source, 'u');
  } catch (error) {
    return `is not a valid regular expression: ${(error as Error).message.replace(/^Invalid regular expression: /, '')}`;
  }
  if (/\\[1-9]|\\k</.test(source)) return 'must not use back-references';
  if (hasNestedRepetition(source)) return 'must not repeat a group that itself repeats or alternates, such as (a+)+ (it could make matching take forever)';
  return undefined;
}

/** Whether an unbounded quantifier applies to a group that contains a quantifier or an alternation. */
function hasNestedRepetition(source: string): boolean {
  const stack: { risky: boolean }[] = [{ risky: false }];
  for (let i = 0; i < source.length; i++) {
    const char = source[i]!;
    if (char === '\\') {
      i++;
      continue;
    }
    if (char === '[') {
      // Skip the class: quantifier characters inside it are literals.
      for (i++; i < source.length && source[i] !== ']'; i++) if (source[i] === '\\') i++;
      continue;
    }
    if (char === '(') {
      stack.push({ risky: false });
      continue;
    }
    if (char === '|') {
      stack[stack.length - 1]!.risky = true;
      continue;
    }
    if (char === ')') {
      const group = stack.pop() ?? { risky: false };
      if (stack.length === 0) stack.push({ risky: false });
      const next = source.slice(i + 1);
      const unbounded = /^(?:[*+]|\{\d+,\}|\{\d+,(?:\d{2,}|[2-9])\})/.test(next);
      if (unbounded && group.risky) return true;
      if (group.risky || unbounded) stack[stack.length - 1]!.risky = true;
      continue;
    }
    if (char === '*' || char === '+' || (char === '{' && /^\{\d+(,\d*)?\}/.test(source.slice(i)))) {
      stack[stack.length - 1]!.risky = true;
    }
  }
  return false;
}

export function patternErrors(patterns: readonly string[], field = '/numberPatterns'): FieldError[] {
  const errors: FieldError[] = [];
  patterns.forEach((pattern, index) => {
    const problem = patternProblem(pattern);
    if (problem) errors.push({ field: `${field}/${index}`, in: 'body', code: 'pattern', message: problem });
  });
  return errors;
}

/**
 * E.164 prefixes of premium-rate and similar costly numbers, refused unless a button allows
 * them: the usual targets of toll fraud. Not exhaustive (each country's plan changes); buttons
 * should also restrict `numberPatterns` to the countries they serve.
 */
export const PREMIUM_RATE_PREFIXES: readonly string[] = [
  '+1900', '+1976', // NANP premium
  '+449', '+44871', '+44872', '+44873', '+4470', // UK 09, service 087x, personal 070
  '+3389', // France 089
  '+49900', '+49137', '+49118', // Germany premium, televoting, directories
  '+3989', // Italy 89x
  '+34803', '+34806', '+34807', '+34905', // Spain
  '+4190', '+439', '+3290', '+3190', // Switzerland, Austria, Belgium, Netherlands 090x
  '+6119', '+35315', '+46939', '+46944', '+4870', // Australia 19, Ireland 15, Sweden, Poland 70x
  '+979', '+881', '+882', '+883', '+870', // international premium, satellite, international networks
];

export type NumberRefusal = 'not_a_number' | 'no_pattern_matches' | 'premium_rate';

/** Why the button does not call `number`, or undefined when it does. */
export function numberRefusal(number: string, rules: { numberPatterns: readonly string[]; allowPremiumRate: boolean }): NumberRefusal | undefined {
  const isE164 = /^\+[1-9][0-9]{1,14}$/.test(number);
  if (isE164 && !rules.allowPremiumRate && PREMIUM_RATE_PREFIXES.some((prefix) => number.startsWith(prefix))) return 'premium_rate';
  if (rules.numberPatterns.length === 0) return isE164 ? undefined : 'not_a_number';
  for (const source of rules.numberPatterns) {
    // Stored patterns passed patternProblem(); one that no longer compiles matches nothing.
    let pattern: RegExp;
    try {
      pattern = new RegExp(source, 'u');
    } catch {
      continue;
    }
    if (pattern.test(number)) return undefined;
  }
  return 'no_pattern_matches';
}

// ---- Business hours -------------------------------------------------------------------------

const WEEKDAYS: Record<string, Weekday> = { Mon: 'mon', Tue: 'tue', Wed: 'wed', Thu: 'thu', Fri: 'fri', Sat: 'sat', Sun: 'sun' };

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export function businessHoursErrors(hours: BusinessHours | null | undefined, field = '/businessHours'): FieldError[] {
  if (!hours) return [];
  const errors: FieldError[] = [];
  if (!isTimeZone(hours.timeZone)) errors.push({ field: `${field}/timeZone`, in: 'body', code: 'timeZone', message: 'is not an IANA time zone (such as Europe/Paris)' });
  hours.weekly.forEach((slot, index) => {
    if (slot.close <= slot.open) errors.push({ field: `${field}/weekly/${index}/close`, in: 'body', code: 'close', message: 'must be after open (on the same day)' });
  });
  return errors;
}

/** Whether `at` falls in the opening hours (open ≤ local time < close); null hours: always open. */
export function isOpen(hours: BusinessHours | null, at: Date): boolean {
  if (!hours) return true;
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-US', { timeZone: hours.timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  } catch {
    return false;
  }
  const part = (type: string): string => parts.find((p) => p.type === type)?.value ?? '';
  const day = WEEKDAYS[part('weekday')];
  const time = `${part('hour').padStart(2, '0')}:${part('minute').padStart(2, '0')}`;
  if (!day) return false;
  return hours.weekly.some((slot) => slot.days.includes(day) && slot.open <= time && time < slot.close);
}
