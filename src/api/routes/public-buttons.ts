/**
 * /v1/public: what widget.js calls from a customer's page, without an API key (issue 6). Every
 * request must come from one of the button's origins (CORS is answered for those only); calls are
 * limited per visitor address, per visitor number, per button per hour and per day, in Redis; every
 * refusal is logged and counted, and dials nothing. The visitor gives only their number, called
 * first (leg a); the destination (leg b) is the button's, never the browser's.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { newPublicCallToken, sha256Hex, type Button, type ButtonCallStatus, type Store } from '../../store/index.js';
import type { ButtonLimiter, LimitKind } from '../button-limits.js';
import { isOpen, numberRefusal, originAllowed, type NumberRefusal } from '../button-rules.js';
import { FINAL_PUBLIC_STATUSES, publicButtonView, publicCallStatus } from '../button-views.js';
import type { CallPlacer } from '../call-placement.js';
import { ApiProblem, sendProblem } from '../problem.js';
import type { RouteModule } from '../routes.js';

export type RefusalReason = 'origin_not_allowed' | 'button_disabled' | 'outside_business_hours' | NumberRefusal | `rate_limited_${LimitKind}`;

/** Refusals counted by reason (for metrics and tests); the log has each one with its details. */
export class RefusalCounter {
  private readonly counts = new Map<RefusalReason, number>();
  /** `onRefusal` sees each one too (the Prometheus counter). */
  constructor(private readonly onRefusal?: (reason: RefusalReason) => void) {}
  add(reason: RefusalReason): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    this.onRefusal?.(reason);
  }
  get(reason: RefusalReason): number {
    return this.counts.get(reason) ?? 0;
  }
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}

export interface PublicButtonRoutesDeps {
  store: Store;
  placer: CallPlacer;
  limiter: ButtonLimiter;
  refusals: RefusalCounter;
  logger: Logger;
  /** How often an event stream looks at the call, ms. Default 500. */
  streamPollMs?: number;
  /** An event stream ends after this long even if the call goes on (EventSource reconnects), ms. Default 10 min. */
  streamMaxMs?: number;
  /** Ring timeout of the visitor's leg, s. Default 30. */
  ringTimeoutS?: number;
  now?: () => Date;
}

const ALLOWED_HEADERS = 'Content-Type';
const EXPOSED_HEADERS = 'Retry-After, Request-Id';

/**
 * The origin of the page that made the request: its Origin header or, for a same-origin GET
 * (browsers send no Origin then), this service's own origin when the browser says
 * `Sec-Fetch-Site: same-origin` (a header pages cannot set). Other clients can claim anything;
 * the check keeps other sites' pages out, the limits deal with the rest.
 */
function requestOrigin(req: Request): string | undefined {
  const origin = req.headers.origin;
  if (origin !== undefined) return origin;
  if (req.headers['sec-fetch-site'] === 'same-origin') return `${req.protocol}://${req.get('host') ?? ''}`;
  return undefined;
}

function corsHeaders(res: Response, origin: string): void {
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
}

function problemFor(reason: NumberRefusal): ApiProblem {
  const message =
    reason === 'premium_rate'
      ? 'is a premium-rate number, which this button does not call'
      : reason === 'not_a_number'
        ? 'must be a phone number in international format, such as +33612345678'
        : 'is not a number this button calls';
  return ApiProblem.invalidFields([{ field: '/number', code: reason, message }]);
}

export function publicButtonRoutes(deps: PublicButtonRoutesDeps): RouteModule {
  const { store, placer, limiter, refusals } = deps;
  const now = deps.now ?? (() => new Date());
  const pollMs = deps.streamPollMs ?? 500;
  const maxStreamMs = deps.streamMaxMs ?? 10 * 60_000;

  function refuse(req: Request, reason: RefusalReason, details: Record<string, unknown>): void {
    refusals.add(reason);
    deps.logger.warn({ reason, ip: req.ip, origin: req.headers.origin, ...details }, 'public button request refused');
  }

  /** The request's Origin, when the button allows it; otherwise a 403 (logged and counted). */
  function checkOrigin(req: Request, res: Response, allowed: readonly string[], details: Record<string, unknown>): string {
    const origin = requestOrigin(req);
    if (!originAllowed(origin, allowed)) {
      refuse(req, 'origin_not_allowed', details);
      throw new ApiProblem('origin_not_allowed', { detail: origin ? `${origin} may not use this button.` : 'The request has no Origin: buttons answer the pages of their allowed origins only.' });
    }
    corsHeaders(res, origin!);
    return origin!;
  }

  async function buttonOr404(id: string): Promise<Button> {
    const button = await store.findButton(id);
    if (!button) throw new ApiProblem('not_found', { detail: `No button with id '${id}'.` });
    return button;
  }

  async function callOr404(token: string): Promise<ButtonCallStatus> {
    const call = await store.buttonCallStatus(sha256Hex(token));
    if (!call) throw new ApiProblem('not_found', { detail: 'No call with this token.' });
    return call;
  }

  async function limit(req: Request, button: Button, kind: LimitKind, key: string): Promise<void> {
    const refused = await limiter.consume(kind, button.limits, `${button.id}:${key}`);
    if (!refused) return;
    refuse(req, `rate_limited_${kind}`, { buttonId: button.id, retryAfterS: refused.retryAfterS });
    const what = { ip: 'from your address', number: 'to this number', button_hour: 'through this button this hour', button_day: 'through this button today' }[kind];
    throw new ApiProblem('rate_limited', { detail: `Too many calls ${what}; try again in ${refused.retryAfterS} seconds.`, headers: { 'Retry-After': String(refused.retryAfterS) } });
  }

  /** CORS preflight (OPTIONS) of the public paths: allowed origins only. */
  const preflight: RequestHandler = async (req, res, next) => {
    if (req.method !== 'OPTIONS') return next();
    const match = /^\/v1\/public\/(?:buttons\/(btn_[A-Za-z0-9]{1,60})(?:\/calls)?|calls\/(pct_[A-Za-z0-9]{32})(?:\/events)?)$/.exec(req.path);
    if (!match) return next();
    const origins = match[1] ? (await store.findButton(match[1]))?.allowedOrigins : (await store.buttonCallStatus(sha256Hex(match[2]!)))?.allowedOrigins;
    const origin = requestOrigin(req);
    res.setHeader('Vary', 'Origin');
    if (!origins || !originAllowed(origin, origins)) {
      refuse(req, 'origin_not_allowed', { path: req.path, preflight: true });
      sendProblem(req, res, new ApiProblem('origin_not_allowed', { detail: `${origin ?? 'A request without Origin'} may not use this button.` }));
      return;
    }
    corsHeaders(res, origin!);
    res.setHeader('Access-Control-Allow-Methods', match[1] ? 'GET, POST' : 'GET');
    res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
    res.setHeader('Access-Control-Max-Age', '600');
    res.status(204).end();
  };

  return (router, { operation }) => {
    router.use(preflight);
    router.use('/v1/public', (_req, res, next) => {
      res.setHeader('Vary', 'Origin');
      res.setHeader('Cache-Control', 'no-store');
      next();
    });

    operation('getPublicButton', async ({ path }, { req, res }) => {
      const button = await buttonOr404(path.id);
      checkOrigin(req, res, button.allowedOrigins, { buttonId: button.id });
      return { status: 200, body: publicButtonView(button, now()) };
    });

    operation('createPublicButtonCall', async ({ path, body }, { req, res }) => {
      const button = await buttonOr404(path.id);
      checkOrigin(req, res, button.allowedOrigins, { buttonId: button.id });
      if (!button.enabled) {
        refuse(req, 'button_disabled', { buttonId: button.id });
        throw new ApiProblem('button_disabled', { detail: 'This button takes no calls at the moment.' });
      }
      if (!isOpen(button.businessHours, now())) {
        refuse(req, 'outside_business_hours', { buttonId: button.id });
        throw new ApiProblem('outside_business_hours', { detail: `This button takes calls in its business hours only (${button.businessHours?.timeZone ?? ''}).` });
      }
      // The address's budget is spent before the number is looked at: probing numbers costs too.
      await limit(req, button, 'ip', req.ip ?? 'unknown');
      const refusal = numberRefusal(body.number, button);
      if (refusal) {
        refuse(req, refusal, { buttonId: button.id });
        throw problemFor(refusal);
      }
      await limit(req, button, 'number', body.number);
      await limit(req, button, 'button_hour', 'all');
      await limit(req, button, 'button_day', 'all');

      const token = newPublicCallToken();
      await placer.place(
        button.accountId,
        {
          a: { uri: body.number, ringTimeout: deps.ringTimeoutS ?? 30 },
          b: { uri: button.destination },
          ...(button.callerId !== null ? { callerId: button.callerId } : {}),
          ...(button.trunkId !== null ? { trunk: button.trunkId } : {}),
          metadata: { button: button.id },
        },
        { buttonCall: { buttonId: button.id, tokenHash: sha256Hex(token) }, fields: { a: '/number', b: '/destination' }, receivedAt: res.locals.receivedAt as number | undefined },
      );
      return {
        status: 202,
        body: { object: 'public_call', token, status: 'queued', statusUrl: `/v1/public/calls/${token}`, eventsUrl: `/v1/public/calls/${token}/events` },
      };
    });

    operation('getPublicCall', async ({ path }, { req, res }) => {
      const call = await callOr404(path.token);
      checkOrigin(req, res, call.allowedOrigins, { buttonId: call.buttonId });
      const status = publicCallStatus(call);
      return { status: 200, body: { object: 'public_call', status, final: FINAL_PUBLIC_STATUSES.has(status) } };
    });

    operation('streamPublicCall', async ({ path }, { req, res, log }) => {
      const tokenHash = sha256Hex(path.token);
      const first = await callOr404(path.token);
      checkOrigin(req, res, first.allowedOrigins, { buttonId: first.buttonId });
      res.status(200);
      res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
      res.setHeader('X-Accel-Buffering', 'no');
      res.flushHeaders();
      res.write('retry: 2000\n\n');
      await new Promise<void>((resolve) => {
        let last: string | undefined;
        let timer: NodeJS.Timeout | undefined;
        const started = Date.now();
        const finish = (): void => {
          if (timer) clearTimeout(timer);
          timer = undefined;
          res.end();
          resolve();
        };
        const send = (call: ButtonCallStatus): boolean => {
          const status = publicCallStatus(call);
          const final = FINAL_PUBLIC_STATUSES.has(status);
          if (status !== last) {
            last = status;
            res.write(`event: status\ndata: ${JSON.stringify({ object: 'public_call', status, final })}\n\n`);
          }
          return final;
        };
        const tick = async (): Promise<void> => {
          timer = undefined;
          try {
            const call = await store.buttonCallStatus(tokenHash);
            if (res.writableEnded || res.destroyed) return resolve();
            if (!call || send(call) || Date.now() - started > maxStreamMs) return finish();
          } catch (error) {
            log.warn({ err: error }, 'public call stream: status read failed');
          }
          if (!res.writableEnded && !res.destroyed) timer = setTimeout(() => void tick(), pollMs);
        };
        req.on('close', () => {
          if (timer) clearTimeout(timer);
          timer = undefined;
          resolve();
        });
        if (send(first)) finish();
        else timer = setTimeout(() => void tick(), pollMs);
      });
      return undefined as never;
    });
  };
}
