/**
 * Cuts a byte stream (TCP, TLS) into messages by the blank line and Content-Length
 * (RFC 3261 §18.3, where Content-Length is mandatory). Also recognises the RFC 5626 §3.5.1
 * CRLF keep-alives between messages.
 */
import { SipParseError } from '../errors.js';
import { parseBoundedInt } from '../grammar.js';
import { defaultParseLimits, type ParseLimits } from './parser.js';

export interface FramedChunk {
  messages: Buffer[];
  /** Double-CRLF pings seen (each wants a single CRLF pong). */
  pings: number;
  /**
   * Set when the stream broke after `messages`: the messages before the fault are still good,
   * the stream cannot be resynchronised (RFC 3261 §18.3) and should be closed.
   */
  error?: SipParseError;
  /** The bytes from the start of the broken frame on, when `error` is set. */
  unframed?: Buffer;
}

const CONTENT_LENGTH_RE = /^(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)$/im;

export class StreamFramer {
  private pending: Buffer = Buffer.alloc(0);
  private broken: SipParseError | undefined;

  constructor(private readonly limits: ParseLimits = defaultParseLimits) {}

  /** Bytes held waiting for the rest of a message. */
  get buffered(): number {
    return this.pending.length;
  }

  /** Feeds bytes; returns the whole messages now complete, and the fault if the stream broke. */
  push(chunk: Buffer): FramedChunk {
    if (this.broken) return { messages: [], pings: 0, error: this.broken, unframed: Buffer.alloc(0) };
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const messages: Buffer[] = [];
    let pings = 0;
    for (;;) {
      let start = 0;
      while (start + 1 < this.pending.length && this.pending[start] === 13 && this.pending[start + 1] === 10) {
        if (start + 3 < this.pending.length && this.pending[start + 2] === 13 && this.pending[start + 3] === 10) {
          pings++;
          start += 4;
        } else if (start + 2 === this.pending.length) {
          // A lone CRLF at the end may be the first half of a ping split across reads.
          break;
        } else {
          start += 2;
        }
      }
      if (start > 0) this.pending = this.pending.subarray(start);
      if (this.pending.length === 0 || (this.pending.length === 2 && this.pending[0] === 13)) break;
      const headerEnd = this.pending.indexOf('\r\n\r\n');
      if (headerEnd < 0) {
        if (this.pending.length > this.limits.maxMessageSize) {
          return this.fail(messages, pings, new SipParseError('TOO_LARGE', 'header section exceeds the message size limit', undefined, 513));
        }
        break;
      }
      const head = this.pending.toString('latin1', 0, headerEnd);
      const match = CONTENT_LENGTH_RE.exec(head);
      let length = 0;
      if (match) {
        const text = match[1]!.trim();
        const parsed = parseBoundedInt(text, Number.MAX_SAFE_INTEGER);
        if (parsed === null) {
          return this.fail(messages, pings, new SipParseError('BAD_CONTENT_LENGTH', 'invalid Content-Length on a stream', 'content-length'));
        }
        length = parsed;
      }
      const total = headerEnd + 4 + length;
      if (total > this.limits.maxMessageSize) {
        return this.fail(messages, pings, new SipParseError('TOO_LARGE', `message of ${total} bytes exceeds ${this.limits.maxMessageSize}`, undefined, 513));
      }
      if (this.pending.length < total) break;
      // Copy so the message does not pin the whole receive buffer.
      messages.push(Buffer.from(this.pending.subarray(0, total)));
      this.pending = this.pending.subarray(total);
    }
    if (this.pending.length === 0) this.pending = Buffer.alloc(0);
    return { messages, pings };
  }

  private fail(messages: Buffer[], pings: number, error: SipParseError): FramedChunk {
    const unframed = this.pending;
    this.broken = error;
    this.pending = Buffer.alloc(0);
    return { messages, pings, error, unframed };
  }
}
