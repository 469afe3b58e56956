/**
 * A call's SIP log (GET /v1/calls/{id}/sip) drawn as a ladder diagram in plain text: three
 * columns, party A | the controller | party B, one arrow per message with its first line, and the
 * time since the first message.
 *
 *              alice                              engine                               bob
 *    0.000 s     |<--- INVITE sip:alice@127.0.0.1 ----|                                  |
 *    0.002 s     |----- 100 Trying (1 INVITE) ------->|                                  |
 */

/** One line of the SIP log, as the API returns it. */
export interface LadderLine {
  leg: 'a' | 'b';
  direction: 'in' | 'out';
  /** ISO 8601. */
  at: string;
  peer: string;
  line: string;
}

export interface LadderOptions {
  /** Column titles. Default alice, engine, bob. */
  names?: { a: string; engine: string; b: string };
  /** Width of the space between two columns, arrows included. Default 40. */
  gap?: number;
}

export function renderLadder(lines: readonly LadderLine[], options: LadderOptions = {}): string {
  const names = options.names ?? { a: 'alice', engine: 'engine', b: 'bob' };
  const gap = Math.max(options.gap ?? 40, 16);
  const sorted = [...lines].sort((x, y) => Date.parse(x.at) - Date.parse(y.at));
  const start = sorted.length > 0 ? Date.parse(sorted[0]!.at) : 0;
  const timeWidth = 10;
  const columns = [timeWidth, timeWidth + 1 + gap, timeWidth + 2 + 2 * gap];
  const header = placeTitles([names.a, names.engine, names.b], columns);
  const rows = [header, `${' '.repeat(timeWidth)}|${' '.repeat(gap)}|${' '.repeat(gap)}|`];
  for (const entry of sorted) {
    const seconds = ((Date.parse(entry.at) - start) / 1000).toFixed(3);
    const time = `${seconds} s`.padStart(timeWidth - 2) + '  ';
    // Leg a runs between A and the engine; leg b between the engine and B. `out`: the engine sent it.
    const towardsRight = entry.leg === 'a' ? entry.direction === 'in' : entry.direction === 'out';
    const drawn = arrow(entry.line, gap, towardsRight);
    const blank = ' '.repeat(gap);
    rows.push(entry.leg === 'a' ? `${time}|${drawn}|${blank}|` : `${time}|${blank}|${drawn}|`);
  }
  return rows.join('\n');
}

/** `---- label --->` or `<--- label ----`, exactly `width` characters. */
function arrow(label: string, width: number, towardsRight: boolean): string {
  const room = width - 6;
  const text = label.length > room ? `${label.slice(0, room - 1)}…` : label;
  const dashes = width - text.length - 2;
  const left = Math.floor(dashes / 2);
  const right = dashes - left;
  return towardsRight ? `${'-'.repeat(left)} ${text} ${'-'.repeat(right - 1)}>` : `<${'-'.repeat(left - 1)} ${text} ${'-'.repeat(right)}`;
}

/** Each title centred over its column's `|`. */
function placeTitles(titles: readonly string[], columns: readonly number[]): string {
  let line = '';
  titles.forEach((title, index) => {
    const from = Math.max(line.length + (index > 0 ? 1 : 0), columns[index]! - Math.floor(title.length / 2));
    line = line.padEnd(from) + title;
  });
  return line;
}
