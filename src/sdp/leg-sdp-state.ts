/**
 * What one leg has seen of its offer/answer session with the controller, and the rewriting that
 * lets the controller forward one party's description to the other (RFC 3725 §4.3, Flow III: B's
 * offer goes to A in a re-INVITE, A's answer back to B in the ACK).
 *
 * Each party believes it talks to one peer, so towards each leg the controller must behave like
 * one agent (RFC 3264 §8):
 * - the o= line stays the same, except that the session version increments by one for every
 *   description that differs from the previous one;
 * - the number of m-lines never decreases and an m-line keeps its position: new streams are
 *   appended (or reuse a disabled slot), removed ones stay as port-0 lines (RFC 3264 §8.1, §8.2).
 *
 * LegSdpState is a plain, JSON-safe value so that the engine can persist it with the dialog.
 */
import { randomFillSync } from 'node:crypto';
import type { MediaDescription, SessionDescription } from './session-description.js';
import { cloneValue, writeSdp } from './session-description.js';
import { type MediaLineShape, disabledMediaLine, ipVersionOf, shapeOf } from './media-line.js';

export interface SdpOrigin {
  username: string;
  /** Decimal digits (RFC 4566 §5.2 sess-id). */
  sessionId: string;
  sessionVersion: number;
  ipVersion: 4 | 6;
  /** The controller's address (RFC 4566 §5.2 unicast-address). */
  address: string;
}

/** An m-line position of the session with a leg. */
export interface MediaSlot extends MediaLineShape {
  /** Whether the slot last carried a stream (port ≠ 0). */
  enabled: boolean;
}

export interface LegSdpState {
  /** The origin of the controller's descriptions towards this leg, with the last version sent. */
  readonly origin: SdpOrigin;
  /** The last description sent to this leg as written, null before the first. */
  readonly lastSent: string | null;
  /** Every m-line position of the session so far, from either side. */
  readonly mediaSlots: readonly MediaSlot[];
}

export interface LegSdpStateInit {
  /** The controller's own address, for o=. */
  address: string;
  /** Default "-" (RFC 4566 §5.2: no user ids). */
  username?: string;
  /** Default: a random number (RFC 4566 §5.2 only asks for uniqueness). */
  sessionId?: string;
  /** The version of the first description to the leg. Default 1. */
  sessionVersion?: number;
}

/** CSPRNG bytes drawn a pool at a time: every call makes two session ids, and randomInt() costs more than a session id is worth. */
const randomPool = Buffer.allocUnsafeSlow(1024);
let randomOffset = randomPool.length;

/** Uniform in [1, 2^47), as randomInt(1, 2 ** 47) is. */
function randomSessionId(): number {
  for (;;) {
    if (randomOffset + 6 > randomPool.length) {
      randomFillSync(randomPool);
      randomOffset = 0;
    }
    // 48 random bits, the top one dropped: uniform in [0, 2^47); 0 is drawn again.
    const value = randomPool.readUIntBE(randomOffset, 6) % 2 ** 47;
    randomOffset += 6;
    if (value !== 0) return value;
  }
}

export function createLegSdpState(init: LegSdpStateInit): LegSdpState {
  const username = init.username ?? '-';
  const sessionId = init.sessionId ?? String(randomSessionId());
  const sessionVersion = init.sessionVersion ?? 1;
  if (!/^\S+$/.test(username)) throw new RangeError(`o= username must be one non-empty token, not ${JSON.stringify(username)}`);
  if (!/^\d{1,20}$/.test(sessionId)) throw new RangeError(`o= session id must be decimal digits, not ${JSON.stringify(sessionId)}`);
  if (!/^\S+$/.test(init.address)) throw new RangeError(`o= address must be one non-empty token, not ${JSON.stringify(init.address)}`);
  // Leave room to increment: versions are written as JavaScript numbers.
  if (!Number.isSafeInteger(sessionVersion) || sessionVersion < 0 || sessionVersion > 2 ** 52) {
    throw new RangeError(`o= session version must be an integer of 0–2^52, not ${sessionVersion}`);
  }
  return {
    origin: { username, sessionId, sessionVersion, ipVersion: ipVersionOf(init.address), address: init.address },
    lastSent: null,
    mediaSlots: [],
  };
}

/** A copy of `description` with the o= line set to `origin`. */
export function stampOrigin(description: SessionDescription, origin: SdpOrigin): SessionDescription {
  const result = cloneValue(description);
  result.origin = originField(origin);
  return result;
}

function originField(origin: SdpOrigin): SessionDescription['origin'] {
  return {
    username: origin.username,
    sessionId: origin.sessionId,
    sessionVersion: origin.sessionVersion,
    netType: 'IN',
    ipVer: origin.ipVersion,
    address: origin.address,
  };
}

/** A deep copy of `description` whose m-lines are `media` (taken as they are, not copied). */
function withMedia(description: SessionDescription, media: MediaDescription[]): SessionDescription {
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(description)) {
    copy[key] = key === 'media' ? media : cloneValue((description as unknown as Record<string, unknown>)[key]);
  }
  if (!('media' in copy)) copy.media = media;
  return copy as unknown as SessionDescription;
}

export interface ReconciledDescription {
  description: SessionDescription;
  /** `mediaMap[k]` is the position in `description` of m-line k of the input. */
  mediaMap: number[];
}

/**
 * Places the m-lines of `description` on the slots a leg already has, so that the leg sees no
 * fewer m-lines than before and each stream where it was (RFC 3264 §8.1, §8.2): a stream takes
 * the first free slot of its media type that carried a stream, else the first free one of its
 * type that was disabled (RFC 3264 §8.1 allows reusing it), else a new slot at the end. Slots
 * left over become port-0 lines of the type, transport and a format they had.
 */
export function reconcileMediaLines(description: SessionDescription, slots: readonly MediaSlot[]): ReconciledDescription {
  const taken = slots.map(() => false);
  const placed: (MediaDescription | undefined)[] = slots.map(() => undefined);
  const mediaMap: number[] = [];
  for (const media of description.media) {
    let position = freeSlot(slots, taken, media.type, true);
    if (position === -1) position = freeSlot(slots, taken, media.type, false);
    if (position === -1) position = placed.length;
    taken[position] = true;
    placed[position] = cloneValue(media);
    mediaMap.push(position);
  }
  const media = placed.map((line, index) => line ?? disabledMediaLine(slots[index] as MediaSlot));
  return { description: withMedia(description, media), mediaMap };
}

export interface DescriptionForLeg extends ReconciledDescription {
  /** The leg's state once `description` is sent. */
  state: LegSdpState;
  /** The body to send. */
  sdp: string;
}

/**
 * Prepares any description (one of the controller's own, or the other party's offer or answer)
 * to be sent to a leg: reconciles its m-lines with what the leg has seen and stamps the leg's
 * origin. The version is the initial one for the first description, the previous one when the
 * description is unchanged, else the previous one plus one (RFC 3264 §8).
 *
 * For an answer, first bring it to the order of the leg's offer with answerInOfferOrder().
 */
export function describeToLeg(state: LegSdpState, description: SessionDescription): DescriptionForLeg {
  // reconcileMediaLines() returns a copy of its own: stamping it in place changes nothing of the caller's.
  const { description: stamped, mediaMap } = reconcileMediaLines(description, state.mediaSlots);
  let origin = state.origin;
  stamped.origin = originField(origin);
  let sdp = writeSdp(stamped);
  if (state.lastSent !== null && sdp !== state.lastSent) {
    origin = Object.assign({}, origin, { sessionVersion: origin.sessionVersion + 1 });
    stamped.origin = originField(origin);
    sdp = writeSdp(stamped);
  }
  return {
    state: { origin, lastSent: sdp, mediaSlots: slotsOf(stamped.media) },
    description: stamped,
    sdp,
    mediaMap,
  };
}

/**
 * Records a description received from the leg (its offer or answer): its m-lines are now the
 * session's, and the controller's next description to the leg must keep them. A leg that
 * wrongly sends fewer m-lines than it had does not make the controller forget the others.
 */
export function noteDescriptionFromLeg(state: LegSdpState, description: SessionDescription): LegSdpState {
  const received = slotsOf(description.media);
  // Object.assign, not a spread with an extra property: V8 takes a slow path for those.
  return Object.assign({}, state, { mediaSlots: [...received, ...state.mediaSlots.slice(received.length)] });
}

/**
 * An answer obtained from the other leg, brought back to the order of the offer it answers.
 * `offer` is the offer as the controller received it and `mediaMap` comes from the
 * describeToLeg() that forwarded it; the result has exactly one m-line per m-line of `offer`
 * (RFC 3264 §6). Lines that the other leg did not answer, answered with another media type, or
 * that `offer` had disabled, are rejected with port 0.
 */
export function answerInOfferOrder(answer: SessionDescription, mediaMap: readonly number[], offer: SessionDescription): SessionDescription {
  const media = offer.media.map((offered, index) => {
    const position = mediaMap[index];
    const answered = position === undefined ? undefined : answer.media[position];
    if (answered === undefined || answered.type !== offered.type || offered.port === 0) {
      return disabledMediaLine(shapeOf(offered));
    }
    return cloneValue(answered);
  });
  return withMedia(answer, media);
}

function freeSlot(slots: readonly MediaSlot[], taken: readonly boolean[], type: string, enabled: boolean): number {
  return slots.findIndex((slot, index) => !taken[index] && slot.type === type && slot.enabled === enabled);
}

function slotsOf(media: readonly MediaDescription[]): MediaSlot[] {
  const slots: MediaSlot[] = [];
  for (const line of media) {
    const shape = shapeOf(line);
    slots.push({ type: shape.type, protocol: shape.protocol, format: shape.format, enabled: Number(line.port) !== 0 });
  }
  return slots;
}
