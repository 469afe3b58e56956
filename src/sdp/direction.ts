/**
 * Stream directions (RFC 4566 §6, RFC 3264 §5.1, §6.1) and hold/resume (RFC 3264 §8.4).
 */
import type { SessionDescription } from './session-description.js';
import { cloneDescription } from './session-description.js';

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** RFC 3264 §8.4: "0.0.0.0" (and its IPv6 equivalent) means "send nothing to me". */
export function isBlackHoleAddress(address: string): boolean {
  const host = address.split('/')[0] ?? address;
  return host === '0.0.0.0' || host === '::' || /^(0{0,4}:){2,7}0{0,4}$/.test(host);
}

/**
 * The direction of m-line `index` as its sender declared it: the media-level attribute, else the
 * session-level one, else sendrecv (RFC 3264 §5.1).
 */
export function mediaDirection(description: SessionDescription, index: number): Direction {
  const media = description.media[index];
  if (media === undefined) throw new RangeError(`no m-line ${index}`);
  return media.direction ?? description.direction ?? 'sendrecv';
}

/** The direction seen from the other side: what one party sends only, the other receives only. */
export function invertDirection(direction: Direction): Direction {
  switch (direction) {
    case 'sendonly':
      return 'recvonly';
    case 'recvonly':
      return 'sendonly';
    case 'sendrecv':
    case 'inactive':
      return direction;
  }
}

function sends(direction: Direction): boolean {
  return direction === 'sendrecv' || direction === 'sendonly';
}

function receives(direction: Direction): boolean {
  return direction === 'sendrecv' || direction === 'recvonly';
}

function fromFlags(send: boolean, receive: boolean): Direction {
  if (send && receive) return 'sendrecv';
  if (send) return 'sendonly';
  if (receive) return 'recvonly';
  return 'inactive';
}

/**
 * The direction an answerer may put in its answer when it would like `wanted` and the offer
 * said `offered`. RFC 3264 §6.1: the answerer may send only if the offerer will receive and
 * receive only if the offerer will send (sendonly → recvonly/inactive, recvonly →
 * sendonly/inactive, inactive → inactive, sendrecv → any).
 */
export function answerDirection(offered: Direction, wanted: Direction = 'sendrecv'): Direction {
  return fromFlags(sends(wanted) && receives(offered), receives(wanted) && sends(offered));
}

/**
 * A new offer that puts every enabled stream on hold. RFC 3264 §8.4: a sendrecv stream becomes
 * sendonly and a recvonly one inactive (so the held party can still send us music on hold);
 * `mode: 'inactive'` stops both directions. The result carries the direction on each m-line.
 */
export function holdDescription(description: SessionDescription, mode: 'sendonly' | 'inactive' = 'sendonly'): SessionDescription {
  return withDirections(description, (current) => {
    if (mode === 'inactive') return 'inactive';
    return fromFlags(sends(current), false);
  });
}

/** A new offer that takes every enabled stream off hold (`direction`, by default sendrecv). */
export function resumeDescription(description: SessionDescription, direction: Direction = 'sendrecv'): SessionDescription {
  return withDirections(description, () => direction);
}

/**
 * Whether a party's description puts the session on hold: no enabled stream asks to receive
 * media, or it gives a black-hole address (RFC 3264 §8.4 requires understanding both).
 */
export function isHeld(description: SessionDescription): boolean {
  const enabled = description.media.map((media, index) => ({ media, index })).filter(({ media }) => media.port !== 0);
  if (enabled.length === 0) return false;
  return enabled.every(({ media, index }) => {
    const address = media.connection?.ip ?? description.connection?.ip;
    return !receives(mediaDirection(description, index)) || (address !== undefined && isBlackHoleAddress(address));
  });
}

function withDirections(description: SessionDescription, next: (current: Direction) => Direction): SessionDescription {
  const result = cloneDescription(description);
  result.media.forEach((media, index) => {
    if (media.port === 0) return;
    media.direction = next(mediaDirection(description, index));
  });
  // Every enabled m-line now states its own direction; a session-level one would only mislead
  // a reader about the disabled ones.
  delete result.direction;
  return result;
}
