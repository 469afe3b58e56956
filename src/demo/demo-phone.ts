/**
 * A demo phone: our own SIP stack as a user agent that takes calls and answers them by itself
 * (RFC 3261 §13.3 through IncomingInviteSession). It rings (180) for `ringMs`, answers with G.711
 * on an RTP port it owns (PhoneMedia: an answer to the INVITE's offer, or an offer of its own in
 * the 200 when the INVITE had none, as in RFC 3725 flows I and III), answers re-INVITE and UPDATE
 * (hold, resume, the controller moving its media to the other party) and in-dialog OPTIONS, and
 * takes the BYE. It sends no RTP; it counts what arrives on its RTP port (a ringback tone, the
 * other party's voice), which shows where the controller pointed its media.
 */
import { createSocket, type Socket } from 'node:dgram';
import { SdpParseError } from '../sdp/index.js';
import { TransportLayer, UserAgent, type IncomingDialogRequest, type IncomingInviteSession, type TimerValues } from '../sip/index.js';
import { PhoneMedia, type MediaState } from './phone-media.js';

export interface DemoPhoneOptions {
  /** The user part of its address (`alice` → sip:alice@127.0.0.1:port). */
  name: string;
  /** Address to bind SIP and RTP on. Default 127.0.0.1. */
  host?: string;
  /** SIP port (UDP and TCP). Default 0: any free one. */
  port?: number;
  /** How long it rings before it answers. Default 400 ms. */
  ringMs?: number;
  timers?: TimerValues;
  /** Sees what the phone does, for printing. */
  onActivity?: (activity: PhoneActivity) => void;
}

export type PhoneActivityKind = 'ringing' | 'answered' | 'connected' | 'media-changed' | 'hung-up' | 'canceled' | 'error';

export interface PhoneActivity {
  phone: string;
  kind: PhoneActivityKind;
  /** The media after the change (answered, connected, media-changed). */
  media?: MediaState;
  detail?: string;
}

export class DemoPhone {
  readonly name: string;
  private readonly transport: TransportLayer;
  private readonly ua: UserAgent;
  private readonly rtp: Socket;
  private readonly ringMs: number;
  private readonly host: string;
  private readonly onActivity: ((activity: PhoneActivity) => void) | undefined;
  private readonly live = new Set<IncomingInviteSession>();
  private readonly ringTimers = new Set<NodeJS.Timeout>();
  private sipPort = 0;
  private rtpPortNumber = 0;
  private packets = 0;
  private calls = 0;

  private constructor(options: DemoPhoneOptions, transport: TransportLayer, rtp: Socket) {
    this.name = options.name;
    this.host = options.host ?? '127.0.0.1';
    this.ringMs = options.ringMs ?? 400;
    this.onActivity = options.onActivity;
    this.transport = transport;
    this.rtp = rtp;
    rtp.on('message', () => void this.packets++);
    this.ua = new UserAgent({
      transport,
      product: 'click-to-dial-demo-phone/0.1',
      contactUser: options.name,
      // What a phone does: no REFER or NOTIFY, and no reliable provisional responses (an INVITE
      // that requires 100rel gets 420, RFC 3262 §3); session timers it answers and keeps.
      capabilities: { allow: ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'INFO', 'UPDATE', 'PRACK'], accept: ['application/sdp'], supported: ['timer'] },
      ...(options.timers ? { timers: options.timers } : {}),
      onIncomingInvite: (session) => this.ring(session),
    });
    this.ua.on('internalError', (error) => this.report('error', error instanceof Error ? error.message : String(error)));
  }

  /** Binds SIP (UDP and TCP) and an RTP port, and starts taking calls. */
  static async start(options: DemoPhoneOptions): Promise<DemoPhone> {
    const host = options.host ?? '127.0.0.1';
    const transport = new TransportLayer({ host, port: options.port ?? 0 });
    const rtp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    try {
      await transport.listen();
      await new Promise<void>((resolve, reject) => {
        rtp.once('error', reject);
        rtp.bind(0, host, () => {
          rtp.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      await transport.close();
      rtp.close();
      throw error;
    }
    const phone = new DemoPhone(options, transport, rtp);
    phone.sipPort = transport.localEndpoint('udp').port;
    phone.rtpPortNumber = rtp.address().port;
    return phone;
  }

  /** Where to call it: `sip:alice@127.0.0.1:port`. */
  get uri(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `sip:${this.name}@${host}:${this.sipPort}`;
  }

  get rtpPort(): number {
    return this.rtpPortNumber;
  }

  /** RTP packets received so far on its RTP port. */
  get rtpPacketsReceived(): number {
    return this.packets;
  }

  /** Calls taken so far. */
  get callsTaken(): number {
    return this.calls;
  }

  /** Calls still up (ringing or answered). */
  get liveCalls(): number {
    return this.live.size;
  }

  /** Hangs up what is live (BYE, or 480 while ringing), then closes the sockets. */
  async stop(): Promise<void> {
    for (const timer of this.ringTimers) clearTimeout(timer);
    this.ringTimers.clear();
    for (const session of [...this.live]) session.hangup();
    // The BYEs go out before the sockets close; their 200s are not waited for.
    if (this.live.size > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    this.ua.close();
    await this.transport.close();
    this.rtp.close();
  }

  private ring(session: IncomingInviteSession): void {
    this.calls++;
    this.live.add(session);
    const media = new PhoneMedia(this.name, this.host, this.rtpPortNumber);
    const forget = (): void => void this.live.delete(session);
    session.on('failed', (failure) => {
      forget();
      this.report('canceled', `${failure.status} ${failure.reason}`);
    });
    session.on('ended', (ending) => {
      forget();
      this.report('hung-up', ending.cause);
    });
    session.on('confirmed', (ack) => {
      if (ack.body.length > 0) this.guard(() => media.answered(ack.body.toString('utf8')));
      this.report('connected', undefined, media.state);
    });
    session.on('reinvite', (request) => this.answerInDialog(request, media));
    session.on('update', (request) => this.answerInDialog(request, media));
    session.on('ack', (ack) => {
      if (ack.body.length === 0) return;
      this.guard(() => media.answered(ack.body.toString('utf8')));
      this.report('media-changed', undefined, media.state);
    });
    session.on('request', (request) => request.respond(200));

    session.progress(180);
    this.report('ringing', session.request.from.uri.toString());
    const timer = setTimeout(() => {
      this.ringTimers.delete(timer);
      if (session.state !== 'proceeding') return;
      const offer = session.offer;
      let body: string;
      try {
        body = offer === undefined ? media.offer() : media.answer(offer);
      } catch (error) {
        // RFC 3261 §13.3.1.3: an offer we cannot read is refused with 488.
        session.reject(error instanceof SdpParseError ? 488 : 500);
        return;
      }
      session.accept({ body });
      this.report('answered', `${offer === undefined ? 'offer' : 'answer'} in the 200: G.711 on RTP port ${this.rtpPortNumber}`, offer === undefined ? undefined : media.state);
    }, this.ringMs);
    this.ringTimers.add(timer);
  }

  /** A re-INVITE or UPDATE: answer its offer, or offer again when it has none (the ACK answers). */
  private answerInDialog(request: IncomingDialogRequest, media: PhoneMedia): void {
    const offer = request.description;
    if (offer === undefined) {
      // An UPDATE without a body refreshes the session; a re-INVITE without one asks for our offer.
      request.respond(200, request.request.method === 'INVITE' ? { body: media.offer() } : {});
      return;
    }
    let body: string;
    try {
      body = media.answer(offer);
    } catch (error) {
      request.respond(error instanceof SdpParseError ? 488 : 500);
      return;
    }
    request.respond(200, { body });
    this.report('media-changed', undefined, media.state);
  }

  private guard(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.report('error', error instanceof Error ? error.message : String(error));
    }
  }

  private report(kind: PhoneActivityKind, detail?: string, media?: MediaState): void {
    if (!this.onActivity) return;
    const activity: PhoneActivity = { phone: this.name, kind };
    if (detail !== undefined) activity.detail = detail;
    if (media !== undefined) activity.media = { ...media };
    try {
      this.onActivity(activity);
    } catch {
      // A printer that throws must not break the phone.
    }
  }
}
