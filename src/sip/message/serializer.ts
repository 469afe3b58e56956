/**
 * Writes a message as bytes (RFC 3261 §7). Header names are written in their usual long
 * spelling (unknown ones as received), and Content-Length always states the body's real size.
 */
import { displayName } from './header-names.js';
import type { SipMessage } from './message.js';

export function serializeMessage(message: SipMessage): Buffer {
  let head = message.startLine() + '\r\n';
  for (const field of message.headers) {
    if (field.name === 'content-length') continue;
    head += `${field.written ?? displayName(field.name)}: ${field.value}\r\n`;
  }
  head += `Content-Length: ${message.body.length}\r\n\r\n`;
  if (message.body.length === 0) return Buffer.from(head, 'utf8');
  // One buffer for head and body, the head encoded straight into it.
  const headLength = Buffer.byteLength(head, 'utf8');
  const bytes = Buffer.allocUnsafe(headLength + message.body.length);
  bytes.write(head, 0, headLength, 'utf8');
  bytes.set(message.body, headLength);
  return bytes;
}
