/**
 * The checks a UAS makes before a request reaches the application (RFC 3261 §8.2, in its
 * order: method, headers, content, extensions), and the stateless answer to OPTIONS
 * (§11.2). Pure: a request in, the response to send (or undefined to go on) out.
 */
import { createResponse, type SipRequest, type SipResponse } from '../message/index.js';

export interface UasCapabilities {
  /** Methods this UA accepts (Allow). */
  allow: readonly string[];
  /** Option tags this UA supports (Supported; anything else in Require gets 420). */
  supported: readonly string[];
  /** Body types this UA accepts (Accept). */
  accept: readonly string[];
  /** The User-Agent/Server product string, if any. */
  server?: string;
}

export const defaultCapabilities: UasCapabilities = {
  allow: ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'INFO', 'UPDATE', 'PRACK', 'REFER', 'NOTIFY'],
  supported: ['100rel', 'timer', 'replaces', 'norefersub'],
  accept: ['application/sdp'],
};

// Methods we know (RFC 3261 and extensions) but may not allow: 405, not 501 (§8.2.1).
const KNOWN_METHODS = new Set([
  'INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'REGISTER', 'INFO', 'UPDATE', 'PRACK', 'REFER',
  'NOTIFY', 'SUBSCRIBE', 'PUBLISH', 'MESSAGE',
]);

// Methods whose body is a session description we must understand (§8.2.3).
const SESSION_METHODS = new Set(['INVITE', 'UPDATE', 'PRACK', 'ACK']);

export interface UasCheckOptions {
  /** Whether the request belongs to a dialog we hold (a To tag alone does not say so). */
  inDialog: boolean;
  toTag: string;
}

/**
 * Returns the response that ends the request here, or undefined when it should go on to a
 * dialog or the application. ACK never gets a response (§17.2.3).
 */
function reply(request: SipRequest, capabilities: UasCapabilities, options: UasCheckOptions, status: number): SipResponse {
  const response = createResponse(request, status, undefined, options.toTag);
  if (capabilities.server) response.setHeader('server', capabilities.server);
  return response;
}

export function checkRequest(request: SipRequest, capabilities: UasCapabilities, options: UasCheckOptions): SipResponse | undefined {
  if (request.method === 'ACK') return undefined;

  // §8.2.1: method inspection.
  if (!capabilities.allow.includes(request.method)) {
    const response = reply(request, capabilities, options, KNOWN_METHODS.has(request.method) ? 405 : 501);
    response.setHeader('allow', capabilities.allow.join(', '));
    return response;
  }

  // §8.2.2.1: a scheme we do not understand.
  const scheme = request.uri.scheme;
  if (scheme !== 'sip' && scheme !== 'sips' && scheme !== 'tel') return reply(request, capabilities, options, 416);

  // §12.2.2: a request with a To tag that matches no dialog (CANCEL is matched by transaction).
  if (request.method !== 'CANCEL' && request.to.tag !== undefined && !options.inDialog) return reply(request, capabilities, options, 481);

  // §8.2.2.3: extensions the UAC insists on. Proxy-Require is for proxies and ignored here.
  const unsupported = request.optionTags('require').filter((tag) => !capabilities.supported.includes(tag));
  if (unsupported.length > 0 && request.method !== 'CANCEL') {
    const response = reply(request, capabilities, options, 420);
    response.setHeader('unsupported', unsupported.join(', '));
    return response;
  }

  // §8.2.3: a body we cannot process (RFC 4475 §3.3.6).
  if (request.body.length > 0 && SESSION_METHODS.has(request.method)) {
    const type = request.contentType;
    if (type !== undefined && !capabilities.accept.includes(type) && !type.startsWith('multipart/')) {
      const response = reply(request, capabilities, options, 415);
      response.setHeader('accept', capabilities.accept.join(', '));
      return response;
    }
  }

  // RFC 3261 §21.4.7 and RFC 4475 §3.3.15: the UAC accepts no body type we could answer with.
  if (request.method === 'INVITE' && request.hasHeader('accept')) {
    const accepted = request.headerValues('accept').map((v) => v.split(';')[0]!.trim().toLowerCase());
    const acceptable = accepted.some((type) => type === '*/*' || type === 'application/*' || capabilities.accept.includes(type));
    if (!acceptable) {
      const response = reply(request, capabilities, options, 406);
      response.setHeader('accept', capabilities.accept.join(', '));
      return response;
    }
  }

  // §11.2: OPTIONS outside a dialog is answered here, as an INVITE would be.
  if (request.method === 'OPTIONS' && !options.inDialog) return optionsResponse(request, capabilities, options.toTag);
  return undefined;
}

/** 200 to OPTIONS with what this UA can do (RFC 3261 §11.2). */
export function optionsResponse(request: SipRequest, capabilities: UasCapabilities, toTag?: string): SipResponse {
  const response = createResponse(request, 200, undefined, toTag);
  response.setHeader('allow', capabilities.allow.join(', '));
  response.setHeader('accept', capabilities.accept.join(', '));
  response.setHeader('accept-encoding', 'identity');
  response.setHeader('accept-language', 'en');
  response.setHeader('supported', capabilities.supported.join(', '));
  if (capabilities.server) response.setHeader('server', capabilities.server);
  return response;
}
