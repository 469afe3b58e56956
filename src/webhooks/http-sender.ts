/**
 * One webhook POST: `http.request` (global fetch costs several times the CPU per request), to the
 * address the SSRF guard checked (pinned through `lookup`, so the TLS name and Host header stay the
 * URL's), with one deadline for the whole exchange, no redirect followed (a 3xx is an answer like
 * any non-2xx), and the response body read only up to a limit: a receiver cannot make us buffer a
 * large answer or hold a worker past the deadline.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { CheckedDestination } from './ssrf-guard.js';

export interface SendResult {
  /** Null when no response came (timeout, connection refused, TLS failure…). */
  status: number | null;
  /** The first `keepBodyBytes` of the body, as UTF-8. */
  body: string | null;
  latencyMs: number;
  /** Why no response was obtained, or why it was cut short. */
  error: string | null;
}

export interface SenderOptions {
  /** The whole exchange, connect to last body byte. Default 10000. */
  timeoutMs?: number;
  /** Bytes of the response body kept (for the delivery log). Default 1024. */
  keepBodyBytes?: number;
  /** Bytes read at most; past this the connection is dropped. Default 64 KiB. */
  maxBodyBytes?: number;
  /** Sockets kept open per receiver (keep-alive). Default 64. */
  maxSocketsPerHost?: number;
  userAgent?: string;
}

export class HttpSender {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly timeoutMs: number;
  private readonly keepBodyBytes: number;
  private readonly maxBodyBytes: number;
  private readonly userAgent: string;

  constructor(options: SenderOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.keepBodyBytes = options.keepBodyBytes ?? 1024;
    this.maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
    this.userAgent = options.userAgent ?? 'click-to-dial-webhooks/0.1';
    const maxSockets = options.maxSocketsPerHost ?? 64;
    // As many idle sockets kept as may be busy: a burst must not close and reopen connections.
    const agentOptions = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' as const };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
  }

  send(destination: CheckedDestination, headers: Record<string, string>, body: string): Promise<SendResult> {
    const started = performance.now();
    const { url } = destination;
    const secure = url.protocol === 'https:';
    const payload = Buffer.from(body, 'utf8');
    // The checked address, whatever DNS says now (the guard's answer to DNS rebinding).
    const pinned: LookupFunction = (_host, options, callback) => {
      if ((options as { all?: boolean }).all) (callback as unknown as (error: null, addresses: { address: string; family: number }[]) => void)(null, [{ address: destination.address, family: destination.family }]);
      else callback(null, destination.address, destination.family);
    };
    return new Promise<SendResult>((resolve) => {
      let settled = false;
      const finish = (result: Omit<SendResult, 'latencyMs'>): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolve({ ...result, latencyMs: Math.round(performance.now() - started) });
      };
      const request = (secure ? https : http).request(
        {
          protocol: url.protocol,
          hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
          port: url.port || (secure ? 443 : 80),
          path: `${url.pathname}${url.search}`,
          method: 'POST',
          agent: secure ? this.httpsAgent : this.httpAgent,
          lookup: pinned,
          ...(url.username ? { auth: `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` } : {}),
          headers: {
            ...headers,
            'content-type': 'application/json',
            'content-length': String(payload.length),
            'user-agent': this.userAgent,
          },
        },
        (response: IncomingMessage) => {
          const kept: Buffer[] = [];
          let keptBytes = 0;
          let readBytes = 0;
          response.on('data', (chunk: Buffer) => {
            readBytes += chunk.length;
            if (keptBytes < this.keepBodyBytes) {
              const part = chunk.subarray(0, this.keepBodyBytes - keptBytes);
              kept.push(part);
              keptBytes += part.length;
            }
            if (readBytes > this.maxBodyBytes) {
              // Enough: the status is what counts; the socket is not reused.
              finish({ status: response.statusCode ?? null, body: Buffer.concat(kept).toString('utf8'), error: `response body longer than ${this.maxBodyBytes} bytes: not read further` });
              response.destroy();
            }
          });
          response.on('end', () => finish({ status: response.statusCode ?? null, body: Buffer.concat(kept).toString('utf8'), error: null }));
          response.on('error', (error) => finish({ status: response.statusCode ?? null, body: Buffer.concat(kept).toString('utf8'), error: error.message }));
        },
      );
      const deadline = setTimeout(() => {
        finish({ status: null, body: null, error: `timed out after ${this.timeoutMs} ms` });
        request.destroy();
      }, this.timeoutMs);
      request.on('error', (error: NodeJS.ErrnoException) => finish({ status: null, body: null, error: error.code ? `${error.code}: ${error.message}` : error.message }));
      request.end(payload);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
