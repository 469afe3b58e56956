/**
 * The RTP ringback sender of RFC 3725 Flow III: while B rings, A's held answer points A's media
 * here and A hears a ringback tone, until B's offer moves A's media to B and the engine stops it.
 *
 * One ticker serves every stream: hundreds of ringing calls cost one timer, not hundreds. Ticks
 * are scheduled from the ideal start time, so timer lateness never accumulates; a late tick sends
 * the frames that came due meanwhile (a few at most). An idle player holds no timer.
 */
import { randomBytes } from 'node:crypto';
import type { Clock, TimerHandle } from '../../sip/index.js';
import { RingbackError } from './errors.js';
import type { RingbackSocket, SendCallback } from './ringback-socket.js';
import type { RingbackTarget } from './ringback-target.js';
import { RTP_HEADER_LENGTH, type RtpHeaderFields, writeRtpHeader } from './rtp-packet.js';
import {
  FRAME_MS,
  NORTH_AMERICAN_RINGBACK,
  SAMPLES_PER_FRAME,
  type G711Encoding,
  type RingbackToneSpec,
  type ToneFrames,
  createToneFrameSet,
} from './tone.js';

/** Why a stream stopped: the engine's stop(), failed sends, or the player closing. */
export type RingbackEndReason = 'stopped' | 'send-failed' | 'closed';

export interface RingbackPlayOptions extends RingbackTarget {
  /** Called once when the stream stops, whatever the reason. */
  onEnd?: (reason: RingbackEndReason, error?: Error) => void;
}

export interface RingbackHandle {
  /** RFC 3550 §5.1: chosen at random per stream. */
  readonly ssrc: number;
  readonly active: boolean;
  readonly packetsSent: number;
  readonly sendErrors: number;
  /** Stops the tone; idempotent. */
  stop(): void;
}

export interface RingbackPlayerOptions {
  socket: RingbackSocket;
  clock: Clock;
  /** Default: the North American ringback (440 + 480 Hz, 2 s on, 4 s off). */
  tone?: RingbackToneSpec;
  /** Frames a stream may send in one late tick before older ones are skipped. Default 3. */
  maxCatchUpFrames?: number;
  /** Consecutive failed sends after which a stream is stopped. Default 5 (0.1 s of packets). */
  maxConsecutiveSendErrors?: number;
  /** A uniformly random unsigned 32-bit integer; for tests. */
  randomUint32?: () => number;
}

/**
 * How early (by the clock) a tick may fire and still count as due: real timers run off the event
 * loop's cached time and can fire a little before the ideal instant.
 */
const EARLY_TOLERANCE_MS = 2;
const DEFAULT_MAX_CATCH_UP_FRAMES = 3;
const DEFAULT_MAX_CONSECUTIVE_SEND_ERRORS = 5;

/** What a stream reports back to its player (kept off the player's public surface). */
interface StreamOwner {
  end(stream: PlayingStream, reason: RingbackEndReason, error?: Error): void;
  noteSendResult(stream: PlayingStream, error: Error | null): void;
}

class PlayingStream implements RingbackHandle, RtpHeaderFields {
  // RFC 3551 §4.1: the first packet of a talkspurt carries the marker.
  marker = true;
  sequenceNumber: number;
  timestamp: number;
  active = true;
  packetsSent = 0;
  sendErrors = 0;
  consecutiveSendErrors = 0;
  /** The next frame of the cadence cycle to send. */
  frameIndex = 0;
  /** The ticker tick this stream's next frame belongs to. */
  nextTick = 0;
  readonly onSent: SendCallback;

  constructor(
    private readonly owner: StreamOwner,
    readonly address: string,
    readonly port: number,
    readonly payloadType: number,
    readonly frames: readonly Buffer[],
    readonly ssrc: number,
    sequenceNumber: number,
    timestamp: number,
    readonly onEnd: RingbackPlayOptions['onEnd'],
  ) {
    this.sequenceNumber = sequenceNumber;
    this.timestamp = timestamp;
    // One callback per stream, not per packet.
    this.onSent = (error) => owner.noteSendResult(this, error);
  }

  stop(): void {
    this.owner.end(this, 'stopped');
  }
}

export class RingbackPlayer {
  private readonly socket: RingbackSocket;
  private readonly clock: Clock;
  private readonly frames: Readonly<Record<G711Encoding, ToneFrames>>;
  private readonly maxCatchUpFrames: number;
  private readonly maxConsecutiveSendErrors: number;
  private readonly randomUint32: () => number;
  /** Active streams, plus stopped ones until the next tick sweeps them out. */
  private streams: PlayingStream[] = [];
  private active = 0;
  private closed = false;
  private ticking = false;
  private inTick = false;
  private timer: TimerHandle | undefined;
  /** When tick 0 was due; tick k is due at epoch + k * FRAME_MS. */
  private epoch = 0;
  private lastTick = -1;
  private readonly owner: StreamOwner = {
    end: (stream, reason, error) => this.endStream(stream, reason, error),
    noteSendResult: (stream, error) => this.noteSendResult(stream, error),
  };

  constructor(options: RingbackPlayerOptions) {
    this.socket = options.socket;
    this.clock = options.clock;
    this.frames = createToneFrameSet(options.tone ?? NORTH_AMERICAN_RINGBACK);
    this.maxCatchUpFrames = positiveInteger(options.maxCatchUpFrames ?? DEFAULT_MAX_CATCH_UP_FRAMES, 'maxCatchUpFrames');
    this.maxConsecutiveSendErrors = positiveInteger(
      options.maxConsecutiveSendErrors ?? DEFAULT_MAX_CONSECUTIVE_SEND_ERRORS,
      'maxConsecutiveSendErrors',
    );
    this.randomUint32 = options.randomUint32 ?? (() => randomBytes(4).readUInt32BE(0));
  }

  get activeStreams(): number {
    return this.active;
  }

  /** Where the packets come from: the address and port to put in A's held answer. */
  localAddress(): { address: string; port: number } {
    return this.socket.address();
  }

  /** Starts the tone towards A; the first packet leaves on the next tick (at once if idle). */
  play(options: RingbackPlayOptions): RingbackHandle {
    if (this.closed) throw new RingbackError('PLAYER_CLOSED', 'the ringback player is closed');
    const { address, port, payloadType, codec } = options;
    if (typeof address !== 'string' || address.length === 0) throw new RangeError('ringback needs an address to send to');
    if (!Number.isInteger(port) || port <= 0 || port > 65_535) throw new RangeError(`ringback port must be 1–65535, not ${port}`);
    if (!Number.isInteger(payloadType) || payloadType < 0 || payloadType > 127) {
      throw new RangeError(`RTP payload type must be 0–127, not ${payloadType}`);
    }
    const frames = this.frames[codec] as ToneFrames | undefined;
    if (frames === undefined) throw new RangeError(`ringback plays PCMU or PCMA, not ${String(codec)}`);
    // RFC 3550 §5.1: SSRC, and the initial sequence number and timestamp, are random.
    const stream = new PlayingStream(
      this.owner,
      address,
      port,
      payloadType,
      frames.frames,
      this.randomUint32() >>> 0,
      this.randomUint32() & 0xffff,
      this.randomUint32() >>> 0,
      options.onEnd,
    );
    if (!this.ticking) this.startTicker();
    stream.nextTick = this.lastTick + 1;
    this.streams.push(stream);
    this.active++;
    return stream;
  }

  /** Stops every stream (reason `closed`) and closes the socket. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stream of [...this.streams]) this.endStream(stream, 'closed');
    this.stopTicker();
    this.socket.close();
  }

  private endStream(stream: PlayingStream, reason: RingbackEndReason, error?: Error): void {
    if (!stream.active) return;
    stream.active = false;
    this.active--;
    // Outside a tick nothing else will sweep the list; a tick sweeps it as it goes.
    if (this.active === 0 && !this.inTick) this.stopTicker();
    stream.onEnd?.(reason, error);
  }

  private noteSendResult(stream: PlayingStream, error: Error | null): void {
    if (!stream.active) return;
    if (error === null) {
      stream.consecutiveSendErrors = 0;
      return;
    }
    stream.sendErrors++;
    stream.consecutiveSendErrors++;
    // One lost datagram is no reason to stop; a destination that keeps failing is.
    if (stream.consecutiveSendErrors >= this.maxConsecutiveSendErrors) this.endStream(stream, 'send-failed', error);
  }

  private startTicker(): void {
    this.ticking = true;
    this.epoch = this.clock.now();
    this.lastTick = -1;
    this.scheduleTick();
  }

  private stopTicker(): void {
    this.ticking = false;
    this.clock.cancel(this.timer);
    this.timer = undefined;
    this.streams = [];
  }

  private scheduleTick(): void {
    const due = this.epoch + (this.lastTick + 1) * FRAME_MS;
    this.timer = this.clock.setTimer(Math.max(0, Math.ceil(due - this.clock.now())), this.onTick);
  }

  private readonly onTick = (): void => {
    this.timer = undefined;
    const tick = Math.floor((this.clock.now() - this.epoch + EARLY_TOLERANCE_MS) / FRAME_MS);
    if (tick > this.lastTick) {
      this.lastTick = tick;
      this.inTick = true;
      try {
        this.sendDueFrames(tick);
      } finally {
        this.inTick = false;
      }
    }
    if (this.active > 0) this.scheduleTick();
    else this.stopTicker();
  };

  /** Sends each stream the frames due up to `tick`, sweeping out stopped streams as it goes. */
  private sendDueFrames(tick: number): void {
    const streams = this.streams;
    const count = streams.length;
    let kept = 0;
    for (let index = 0; index < count; index++) {
      const stream = streams[index]!;
      if (stream.active) this.sendFrames(stream, tick);
      if (stream.active) streams[kept++] = stream;
    }
    // Streams started from an onEnd callback during this tick were appended past `count`.
    for (let index = count; index < streams.length; index++) streams[kept++] = streams[index]!;
    streams.length = kept;
  }

  private sendFrames(stream: PlayingStream, tick: number): void {
    let owed = tick - stream.nextTick + 1;
    if (owed <= 0) return;
    if (stream.packetsSent === 0) {
      // A stream that has sent nothing yet starts now, from the top of the cadence.
      owed = 1;
    } else if (owed > this.maxCatchUpFrames) {
      // Too far behind to catch up: skip the oldest frames. RFC 3550 §5.1: the timestamp still
      // counts the time they covered, and the packet after the gap starts a talkspurt.
      const skipped = owed - this.maxCatchUpFrames;
      stream.timestamp = (stream.timestamp + skipped * SAMPLES_PER_FRAME) >>> 0;
      stream.frameIndex = (stream.frameIndex + skipped) % stream.frames.length;
      stream.marker = true;
      owed = this.maxCatchUpFrames;
    }
    stream.nextTick = tick + 1;
    for (let sent = 0; sent < owed && stream.active; sent++) this.sendFrame(stream);
  }

  private sendFrame(stream: PlayingStream): void {
    const frame = stream.frames[stream.frameIndex]!;
    const packet = Buffer.allocUnsafe(RTP_HEADER_LENGTH + frame.length);
    writeRtpHeader(packet, stream);
    frame.copy(packet, RTP_HEADER_LENGTH);
    stream.marker = false;
    stream.sequenceNumber = (stream.sequenceNumber + 1) & 0xffff;
    stream.timestamp = (stream.timestamp + SAMPLES_PER_FRAME) >>> 0;
    if (++stream.frameIndex === stream.frames.length) stream.frameIndex = 0;
    stream.packetsSent++;
    try {
      this.socket.send(packet, stream.port, stream.address, stream.onSent);
    } catch (error) {
      // Nothing thrown by one destination may stop the ticker for the others.
      this.noteSendResult(stream, error instanceof Error ? error : new Error(String(error)));
    }
  }
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, not ${value}`);
  return value;
}
