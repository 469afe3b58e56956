/**
 * sdp-transform's parser and writer (v3), run from sdp-transform's own grammar but prepared once
 * instead of on every line: its writer re-interprets each format string with a regular
 * expression for every line it writes and walks the whole grammar for every m-line, and its
 * parser tries every `a=` rule's expression in turn. Both run for every session description the
 * controller forwards, so here the format strings are cut into pieces once, and a line is tried
 * only against the rules whose expression can match how it begins. The algorithm is otherwise
 * sdp-transform's, step for step, so the results are the same as its parse() and write() (the
 * tests compare them), with one difference asked for: write() does not fill in defaults on the
 * object it is given. Internal to src/sdp.
 */
import sdpTransform from 'sdp-transform';
import type { SessionDescription } from 'sdp-transform';

type Format = string | ((values: unknown) => string);

interface GrammarRule {
  name?: string;
  push?: string;
  reg: RegExp;
  names?: string[];
  format: Format;
}

type Location = Record<string, unknown>;

const grammar = (sdpTransform as unknown as { grammar: Record<string, GrammarRule[]> }).grammar;

// ---- writing --------------------------------------------------------------------------------

/** A format string cut at its `%s`, `%d`, `%v` and `%%` (sdp-transform's formatRegExp). */
interface CompiledFormat {
  /** literals[k] comes before specifiers[k]; the last literal ends the line. */
  literals: string[];
  specifiers: string[];
}

const FORMAT_SPECIFIER = /%[sdv%]/g;
const compiledFormats = new Map<string, CompiledFormat>();

function compileFormat(formatString: string): CompiledFormat {
  let compiled = compiledFormats.get(formatString);
  if (compiled !== undefined) return compiled;
  const literals: string[] = [];
  const specifiers: string[] = [];
  let last = 0;
  for (const match of formatString.matchAll(FORMAT_SPECIFIER)) {
    literals.push(formatString.slice(last, match.index));
    specifiers.push(match[0]);
    last = match.index + match[0].length;
  }
  literals.push(formatString.slice(last));
  compiled = { literals, specifiers };
  // Function formats return one of a few strings each; the cache stays small.
  if (compiledFormats.size < 4096) compiledFormats.set(formatString, compiled);
  return compiled;
}

/** sdp-transform's `format`: arguments beyond the specifiers are dropped, missing ones leave the specifier. */
function applyFormat(compiled: CompiledFormat, args: unknown[]): string {
  const { literals, specifiers } = compiled;
  let out = literals[0]!;
  let next = 0;
  for (let k = 0; k < specifiers.length; k++) {
    const specifier = specifiers[k]!;
    if (next >= args.length) {
      out += specifier;
    } else {
      const arg = args[next++];
      if (specifier === '%s') out += String(arg);
      else if (specifier === '%d') out += String(Number(arg));
      else if (specifier === '%%') out += '%';
      // %v writes nothing
    }
    out += literals[k + 1]!;
  }
  return out;
}

/** A grammar rule ready for writing: its format cut once (or per text its format function returns). */
interface WriteRule {
  type: string;
  rule: GrammarRule;
  /** The key the rule writes from when it is present: `name`, else `push` (as `in` would read an absent one). */
  nameKey: string;
  pushKey: string;
  /** For a string format: `type=format`, cut. */
  compiled: CompiledFormat | undefined;
  /** For a format function: `type=text` cut, by the text it returned. */
  byText: Map<string, CompiledFormat> | undefined;
}

function writeRule(type: string, rule: GrammarRule): WriteRule {
  const format = rule.format;
  return {
    type,
    rule,
    nameKey: String(rule.name),
    pushKey: String(rule.push),
    compiled: typeof format === 'function' ? undefined : compileFormat(`${type}=${format}`),
    byText: typeof format === 'function' ? new Map() : undefined,
  };
}

/** sdp-transform's makeLine. `mLine` stands in for the `payloads ?? ''` its writer stores on the m-line first. */
function makeLine(entry: WriteRule, location: Location, mLine = false): string {
  const rule = entry.rule;
  let compiled = entry.compiled;
  if (compiled === undefined) {
    const text = (rule.format as (values: unknown) => string)(rule.push ? location : location[rule.name!]);
    const byText = entry.byText!;
    compiled = byText.get(text);
    if (compiled === undefined) {
      compiled = compileFormat(`${entry.type}=${text}`);
      if (byText.size < 64) byText.set(text, compiled);
    }
  }
  const args: unknown[] = [];
  const names = rule.names;
  if (names) {
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      if (rule.name) {
        args.push((location[rule.name] as Location)[name]);
      } else if (mLine && name === 'payloads') {
        const payloads = location.payloads;
        args.push(payloads == null ? '' : payloads);
      } else {
        args.push(location[name]);
      }
    }
  } else {
    args.push(location[rule.name as string]);
  }
  return applyFormat(compiled, args);
}

/** sdp-transform's writer loop over one rule: the line from `name`, else one line per element of `push`. */
function writeEntry(entry: WriteRule, location: Location, lines: string[]): void {
  if (location[entry.nameKey] != null) {
    lines.push(makeLine(entry, location));
  } else if (location[entry.pushKey] != null) {
    (location[entry.pushKey] as Location[]).forEach((element) => lines.push(makeLine(entry, element)));
  }
}

/**
 * The rules sdp-transform's writer goes through, in its order (RFC 4566: v o s i u e p c b t r z a
 * for the session, then i c b a for each m-line), and the same rules by the key they write from,
 * so that a description is written by looking at the keys it has rather than at every rule.
 */
interface WriteOrder {
  rules: WriteRule[];
  byKey: Map<string, number[]>;
  /** Which rules may write, for the section being written (writing never nests). */
  scratch: Uint8Array;
  /** When none of the rules' keys is inherited by plain objects, absent keys are known absent. */
  keysSafe: boolean;
}

function writeOrder(types: readonly string[]): WriteOrder {
  const rules = types.flatMap((type) => grammar[type]!.map((rule) => writeRule(type, rule)));
  const byKey = new Map<string, number[]>();
  let keysSafe = true;
  rules.forEach((entry, index) => {
    for (const key of new Set([entry.nameKey, entry.pushKey])) {
      if (key in Object.prototype) keysSafe = false;
      const list = byKey.get(key) ?? [];
      list.push(index);
      byKey.set(key, list);
    }
  });
  return { rules, byKey, keysSafe, scratch: new Uint8Array(rules.length) };
}

// RFC 4566 order, as sdp-transform writes it.
const SESSION_ORDER = writeOrder(['v', 'o', 's', 'i', 'u', 'e', 'p', 'c', 'b', 't', 'r', 'z', 'a']);
const MEDIA_ORDER = writeOrder(['i', 'c', 'b', 'a']);
const M_LINE = writeRule('m', grammar.m![0]!);
const VERSION_RULE = SESSION_ORDER.rules.findIndex((entry) => entry.type === 'v');
const NAME_RULE = SESSION_ORDER.rules.findIndex((entry) => entry.type === 's');

function writeSection(order: WriteOrder, location: Location, lines: string[], session: boolean): void {
  const { rules, byKey } = order;
  const prototype = Object.getPrototypeOf(location);
  if (!order.keysSafe || (prototype !== Object.prototype && prototype !== null)) {
    // Not a plain object: every rule, as sdp-transform goes through them.
    for (let j = 0; j < rules.length; j++) writeRule1(order, j, location, lines, session);
    return;
  }
  // A key the object does not have reads as undefined, which writes nothing: only the rules of
  // the keys it has can write a line. (Descriptions are plain data: sdp-transform's, JSON's,
  // object literals; their properties are enumerable.)
  const candidates = order.scratch;
  if (session) candidates[VERSION_RULE] = candidates[NAME_RULE] = 1;
  for (const key in location) {
    const list = byKey.get(key);
    if (list !== undefined) for (let k = 0; k < list.length; k++) candidates[list[k]!] = 1;
  }
  try {
    for (let index = 0; index < rules.length; index++) {
      if (candidates[index] === 1) writeRule1(order, index, location, lines, session);
    }
  } finally {
    candidates.fill(0);
  }
}

function writeRule1(order: WriteOrder, index: number, location: Location, lines: string[], session: boolean): void {
  const entry = order.rules[index]!;
  if (session && (index === VERSION_RULE || index === NAME_RULE)) {
    const key = index === VERSION_RULE ? 'version' : 'name';
    if (location[key] == null) {
      // What write() stores before writing: v=0 and "s= " must be there.
      lines.push(makeLine(entry, { [key]: index === VERSION_RULE ? 0 : ' ' }));
      return;
    }
  }
  writeEntry(entry, location, lines);
}

/**
 * sdp-transform's write(): the same lines in the same order. Where it would first store
 * `version = 0`, `name = ' '` or an m-line's `payloads = ''` on the object it is given, this one
 * writes those values and leaves the object alone.
 */
export function writeDescription(session: SessionDescription): string {
  const lines: string[] = [];
  writeSection(SESSION_ORDER, session as unknown as Location, lines, true);
  session.media.forEach((media) => {
    const mLine = media as unknown as Location;
    lines.push(makeLine(M_LINE, mLine, true));
    writeSection(MEDIA_ORDER, mLine, lines, false);
  });
  // join() makes one flat string: a description is often kept (the last one sent to a leg).
  lines.push('');
  return lines.join('\r\n');
}

// ---- parsing --------------------------------------------------------------------------------

interface ParseRule {
  rule: GrammarRule;
  reg: RegExp;
  /** What a line's content must start with for the rule's expression to match it ('' when unknown). */
  prefix: string;
  /** A global or sticky expression keeps state between test() and match(): run as sdp-transform runs it. */
  stateful: boolean;
}

const QUANTIFIERS = new Set(['*', '+', '?', '{']);

/**
 * The literal text an anchored expression requires at the start, e.g. `rtpmap:` for
 * /^rtpmap:(\d*) …/ and `rtcp-mux` for /^(rtcp-mux)/; '' when it cannot tell. Only ever shorter
 * than what the expression needs, never longer, so skipping a rule whose prefix a line lacks
 * changes no result.
 */
export function requiredPrefix(reg: RegExp): string {
  if (reg.flags.includes('i') || reg.flags.includes('m')) return '';
  const source = reg.source;
  if (source[0] !== '^' || hasTopLevelAlternation(source)) return '';
  let i = 1;
  let inGroup = false;
  if (source[i] === '(' && source[i + 1] !== '?') {
    inGroup = true;
    i++;
  }
  let prefix = '';
  while (i < source.length) {
    let c = source[i]!;
    let width = 1;
    if (c === '\\') {
      const escaped = source[i + 1];
      // An escaped punctuation mark is that character; \d, \s, \w and the like are classes.
      if (escaped === undefined || /[A-Za-z0-9]/.test(escaped)) break;
      c = escaped;
      width = 2;
    } else if (!/[A-Za-z0-9:=_\- ,;@#!~'"&<>]/.test(c)) {
      // `)`, `(`, `[`, `.`, `|`, `$`, `*`…: the literal part ends here. A `|` inside the first
      // group makes it an alternation, of which no part is required.
      if (c === '|' || (c === ')' && !inGroup)) return '';
      if (c === ')' && QUANTIFIERS.has(source[i + width] ?? '')) return '';
      break;
    }
    // A quantified character may be absent (or repeated): it is not part of the prefix.
    if (QUANTIFIERS.has(source[i + width] ?? '')) break;
    prefix += c;
    i += width;
  }
  if (inGroup && groupHasAlternation(source, 1)) return '';
  return prefix;
}

/** Calls `visit(c, depth, index)` for each character outside escapes and character classes. */
function scanStructure(source: string, visit: (c: string, depth: number, index: number) => boolean): void {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    if (visit(c, depth, i)) return;
  }
}

/** A `|` outside every group: the expression is anchored only in its first alternative. */
function hasTopLevelAlternation(source: string): boolean {
  let found = false;
  scanStructure(source, (c, depth) => (found = c === '|' && depth === 0));
  return found;
}

/** A `|` directly inside the group that opens at `open`. */
function groupHasAlternation(source: string, open: number): boolean {
  let found = false;
  scanStructure(source, (c, depth, index) => {
    if (index <= open) return false;
    if (c === ')' && depth === 0) return true;
    found = c === '|' && depth === 1;
    return found;
  });
  return found;
}

/**
 * For each line type, the rules in grammar order that a content starting with a given (ASCII)
 * character may match: those whose prefix starts with it and those without a prefix.
 */
interface TypeRules {
  byFirstChar: ParseRule[][];
  /** For a content that is empty or starts with any other character. */
  unprefixed: ParseRule[];
}

/** By the char code of the line type (a–z). */
const PARSE_RULES: (TypeRules | undefined)[] = [];
for (const [type, rules] of Object.entries(grammar)) {
  const entries: ParseRule[] = rules.map((rule) => {
    const stateful = rule.reg.global || rule.reg.sticky;
    return { rule, reg: rule.reg, stateful, prefix: stateful ? '' : requiredPrefix(rule.reg) };
  });
  const byFirstChar: ParseRule[][] = [];
  for (let code = 0; code < 128; code++) {
    byFirstChar.push(entries.filter((entry) => entry.prefix === '' || entry.prefix.charCodeAt(0) === code));
  }
  if (type.length === 1) PARSE_RULES[type.charCodeAt(0)] = { byFirstChar, unprefixed: entries.filter((entry) => entry.prefix === '') };
}

/** sdp-transform's toIntIfInt: a number when the text is how JavaScript writes that number. */
function toIntIfInt(value: string): string | number {
  const first = value.charCodeAt(0);
  if (first >= 49 && first <= 57 && value.length <= 15) {
    // A plain integer without leading zero, short enough to be exact, is written as itself.
    let number = first - 48;
    let i = 1;
    for (; i < value.length; i++) {
      const digit = value.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9) break;
      number = number * 10 + digit;
    }
    if (i === value.length) return number;
  }
  // How JavaScript writes a number starts with a digit or "-" (else it is Infinity or NaN) and
  // holds nothing but digits, at most one ".", and "e", "+" and "-" in its exponent.
  if (!(first >= 48 && first <= 57) && first !== 45) {
    return value === 'Infinity' || value === 'NaN' ? Number(value) : value;
  }
  if (value === '-Infinity') return -Infinity;
  let dots = 0;
  for (let i = 1; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 46) {
      if (++dots > 1) return value;
    } else if (!(c >= 48 && c <= 57) && c !== 101 && c !== 43 && c !== 45) {
      return value;
    }
  }
  return String(Number(value)) === value ? Number(value) : value;
}

/** The lines of a body as sdp-transform cuts them: at CR LF, a lone CR or a lone LF. */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13) {
      lines.push(text.slice(start, i));
      if (text.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    } else if (c === 10) {
      lines.push(text.slice(start, i));
      start = i + 1;
    }
  }
  lines.push(text.slice(start));
  return lines;
}

/** sdp-transform's attachProperties. */
function attachProperties(match: RegExpMatchArray, location: Location, names: string[] | undefined, rawName: string | undefined): void {
  if (rawName && !names) {
    location[rawName] = toIntIfInt(match[1]!);
  } else {
    for (let i = 0; i < names!.length; i += 1) {
      if (match[i + 1] != null) location[names![i]!] = toIntIfInt(match[i + 1]!);
    }
  }
}

/** sdp-transform's parseReg. */
function parseReg(rule: GrammarRule, location: Location, match: RegExpMatchArray): void {
  const needsBlank = rule.name && rule.names;
  if (rule.push && !location[rule.push]) {
    location[rule.push] = [];
  } else if (needsBlank && !location[rule.name!]) {
    location[rule.name!] = {};
  }
  const keyLocation: Location = rule.push ? {} : needsBlank ? (location[rule.name!] as Location) : location;
  attachProperties(match, keyLocation, rule.names, rule.name);
  if (rule.push) (location[rule.push] as Location[]).push(keyLocation);
}

/** sdp-transform's validLine: /^([a-z])=(.*)/. */
export function isValidLine(line: string): boolean {
  const c = line.charCodeAt(0);
  return c >= 97 && c <= 122 && line.charCodeAt(1) === 61;
}

/**
 * sdp-transform's parse() of a body already cut into lines (at CR LF, CR or LF, as it cuts):
 * lines that are not `<letter>=` are skipped, as it skips them.
 */
export function parseDescriptionLines(lines: readonly string[]): SessionDescription {
  const session: Location = {};
  const media: Location[] = [];
  let location = session;
  for (let l = 0; l < lines.length; l++) {
    const line = lines[l]!;
    if (!isValidLine(line)) continue;
    const type = line.charCodeAt(0);
    const content = line.slice(2);
    if (type === 109 /* m */) {
      location = { rtp: [], fmtp: [] };
      media.push(location);
    }
    const typeRules = PARSE_RULES[type];
    if (typeRules === undefined) continue;
    const first = content.charCodeAt(0);
    const rules = first < 128 ? typeRules.byFirstChar[first]! : typeRules.unprefixed;
    for (let j = 0; j < rules.length; j++) {
      const entry = rules[j]!;
      if (entry.prefix !== '' && !content.startsWith(entry.prefix)) continue;
      const reg = entry.reg;
      if (entry.stateful) {
        if (!reg.test(content)) continue;
        parseReg(entry.rule, location, content.match(reg)!);
        break;
      }
      const match = reg.exec(content);
      if (match === null) continue;
      parseReg(entry.rule, location, match);
      break;
    }
  }
  session.media = media;
  return session as unknown as SessionDescription;
}

/** sdp-transform's parse(). */
export function parseDescription(text: string): SessionDescription {
  return parseDescriptionLines(splitLines(text));
}
