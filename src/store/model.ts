/**
 * The records the store reads and writes. The call model's unions repeat those of
 * src/engine/call-model.ts (the store may not import the engine, DESIGN.md "Layers"); being the same
 * string unions, the engine's values are assignable to them as they are.
 */
export type CallStatus = 'queued' | 'calling_a' | 'calling_b' | 'connected' | 'completed' | 'failed' | 'canceled';
export type LegStatus = 'idle' | 'calling' | 'ringing' | 'early' | 'answered' | 'connected' | 'ended' | 'failed';
export type LegName = 'a' | 'b';
export type Flow = 'I' | 'III' | 'IV';
export type Ringback = 'tone' | 'none';
/** The engine's EndReason (`a_busy`, `max_duration`, …); open, since the engine grows it. */
export type EndReason = string;
export type SipTransport = 'udp' | 'tcp' | 'tls';
export type NumberFormat = 'e164' | 'national' | 'as-is';

export const FINAL_CALL_STATUSES: readonly CallStatus[] = ['completed', 'failed', 'canceled'];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface Account {
  id: string;
  name: string;
  createdAt: Date;
}

/** An API key as shown to its owner: never the secret, never its hash. */
export interface ApiKey {
  id: string;
  accountId: string;
  name: string;
  /** The first 12 characters of the secret (`ctd_` and 8 more), to tell keys apart. */
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface NewApiKey {
  key: ApiKey;
  /** `ctd_` + 32 base62 characters. Shown once: the store keeps only its SHA-256. */
  secret: string;
}

export interface Authenticated {
  accountId: string;
  keyId: string;
}

export interface Trunk {
  id: string;
  accountId: string;
  name: string;
  host: string;
  port: number;
  transport: SipTransport;
  username: string | null;
  /** Whether a password is stored; the password itself never leaves the store but through trunkCredentials(). */
  hasPassword: boolean;
  realm: string | null;
  fromDomain: string | null;
  numberFormat: NumberFormat;
  isDefault: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewTrunk {
  name: string;
  host: string;
  /** Default 5060. */
  port?: number;
  /** Default udp. */
  transport?: SipTransport;
  username?: string | null;
  password?: string | null;
  realm?: string | null;
  fromDomain?: string | null;
  /** Default e164. */
  numberFormat?: NumberFormat;
  /** Making a trunk the default takes the flag off the account's other trunks. */
  isDefault?: boolean;
}

/** Absent fields are left as they are; `password: null` removes the password. */
export type TrunkUpdate = Partial<NewTrunk>;

/** What the engine needs to answer a trunk's digest challenge (RFC 7616). */
export interface TrunkCredentials {
  trunkId: string;
  username: string | null;
  password: string | null;
  realm: string | null;
}

export interface NewLeg {
  uri: string;
  /** The From of the INVITE to this leg. */
  callerId: string;
  trunkId?: string | null;
  /** Extra header lines on the INVITE, { name: value }. */
  headers?: Readonly<Record<string, string>>;
  /** Default 30. */
  ringTimeoutS?: number;
}

export interface NewCall {
  a: NewLeg;
  b: NewLeg;
  /** Default III. */
  flow?: Flow;
  /** Default none. */
  ringback?: Ringback;
  /** 0: no limit. Default 0. */
  maxDurationS?: number;
  webhookUrl?: string | null;
  /** JSON-serialisable, kept as given. */
  metadata?: object;
  /** Write the call's `call.queued` event (sequence 1, with its outbox row) with it. Default false. */
  queuedEvent?: boolean;
  /** A call placed through a button: its public token's hash, written in the call's own transaction. */
  buttonCall?: { buttonId: string; tokenHash: string };
}

export interface Idempotency {
  key: string;
  /** A hash of the request body (the API's choice of hash): the same key with another hash is a conflict. */
  requestHash: string;
}

export interface Leg {
  name: LegName;
  uri: string;
  callerId: string;
  trunkId: string | null;
  headers: Record<string, string>;
  ringTimeoutS: number;
  status: LegStatus;
  sipCode: number | null;
  sipReason: string | null;
  sipCallId: string | null;
  /** The persisted DialogSnapshot (src/sip/dialog/dialog-snapshot.ts): pass it to readSnapshot(). */
  dialog: JsonObject | null;
  /** The persisted InviteSnapshot (src/sip/ua/orphaned-requests.ts) while the leg rang. */
  invite: JsonObject | null;
  answeredAt: Date | null;
  endedAt: Date | null;
}

export interface Call {
  id: string;
  accountId: string;
  status: CallStatus;
  flow: Flow;
  endReason: EndReason | null;
  sipCode: number | null;
  sipReason: string | null;
  failedLeg: LegName | null;
  ringback: Ringback;
  maxDurationS: number;
  webhookUrl: string | null;
  metadata: JsonObject;
  idempotencyKey: string | null;
  /** The engine that owns the call's SIP dialogs. */
  engineId: string | null;
  /** The sequence number of the call's last persisted event (0: none yet). */
  lastSequence: number;
  createdAt: Date;
  connectedAt: Date | null;
  endedAt: Date | null;
  legs: { a: Leg; b: Leg };
}

export interface ListCallsQuery {
  status?: CallStatus | readonly CallStatus[];
  /** Inclusive. */
  createdAfter?: Date;
  /** Exclusive. */
  createdBefore?: Date;
  /** 1 to 100; default 20. */
  limit?: number;
  /** The nextCursor of the previous page. */
  cursor?: string | null;
}

export interface CallPage {
  /** Newest first (createdAt, then id, descending). */
  calls: Call[];
  /** Null on the last page. */
  nextCursor: string | null;
}

export interface CallEventRecord {
  id: string;
  callId: string;
  accountId: string;
  sequence: number;
  type: string;
  leg: LegName | null;
  status: string | null;
  sipCode: number | null;
  sipReason: string | null;
  endReason: EndReason | null;
  payload: JsonObject;
  createdAt: Date;
}

export interface SipMessageRecord {
  callId: string;
  leg: LegName;
  direction: 'in' | 'out';
  at: Date;
  peer: string;
  line: string;
  /** The whole message text; null for rows written before it was kept. */
  message: string | null;
}

export interface Engine {
  id: string;
  sipAddress: string;
  sipPort: number;
  startedAt: Date;
  heartbeatAt: Date;
  draining: boolean;
}

export interface EngineHeartbeat {
  sipAddress: string;
  sipPort: number;
  draining: boolean;
}

// ---- Buttons (issue 6) ----------------------------------------------------------------------

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

export interface BusinessHours {
  /** IANA time zone name. */
  timeZone: string;
  /** Opening times, local to timeZone: `open` and `close` as HH:MM (close after open; 24:00 for midnight). */
  weekly: { days: Weekday[]; open: string; close: string }[];
}

export interface ButtonLimits {
  perIpPerHour: number;
  perNumberPerHour: number;
  perButtonPerHour: number;
  perDay: number;
}

export interface Button {
  id: string;
  accountId: string;
  name: string;
  /** Leg b: fixed by the account, never taken from a visitor. */
  destination: string;
  trunkId: string | null;
  callerId: string | null;
  label: string;
  colors: { background: string; text: string };
  allowedOrigins: string[];
  numberPatterns: string[];
  allowPremiumRate: boolean;
  businessHours: BusinessHours | null;
  limits: ButtonLimits;
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewButton {
  name: string;
  destination: string;
  trunkId?: string | null;
  callerId?: string | null;
  /** Default "Call me". */
  label?: string;
  colors?: { background: string; text: string };
  allowedOrigins: readonly string[];
  numberPatterns?: readonly string[];
  allowPremiumRate?: boolean;
  businessHours?: BusinessHours | null;
  limits?: Partial<ButtonLimits>;
  /** Default true. */
  enabled?: boolean;
}

/** Absent fields are left as they are; `null` clears trunk, callerId and businessHours. */
export type ButtonUpdate = Partial<Omit<NewButton, 'limits'>> & { limits?: Partial<ButtonLimits> };

/** A call placed through a button, as its public token shows it. */
export interface ButtonCallStatus {
  buttonId: string;
  callId: string;
  /** The button's, for the CORS check of the public status endpoints. */
  allowedOrigins: string[];
  status: CallStatus;
  endReason: EndReason | null;
  failedLeg: LegName | null;
}

// Webhooks (docs/webhooks.md)

/** Why an endpoint was turned off by the service: it answered 410 Gone, or it failed for 5 days. */
export type WebhookDisabledReason = 'gone' | 'failing';

/** An endpoint as shown to its owner: never its secrets (webhookSigningSecrets() reads them). */
export interface WebhookEndpoint {
  id: string;
  accountId: string;
  url: string;
  description: string | null;
  /** Event types, or ['*']. */
  events: string[];
  enabled: boolean;
  /** Until when the secret before the last rotation still signs (null: no such secret). */
  previousSecretExpiresAt: Date | null;
  failingSince: Date | null;
  disabledAt: Date | null;
  disabledReason: WebhookDisabledReason | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewWebhookEndpoint {
  url: string;
  /** Default ['*']. */
  events?: string[];
  /** Default true. */
  enabled?: boolean;
  description?: string | null;
}

/** Absent fields are left as they are. Enabling an endpoint clears its disabled and failing state. */
export type WebhookEndpointUpdate = Partial<NewWebhookEndpoint>;

/** The secrets that sign an endpoint's (or an account's) deliveries now: the current one first. */
export interface WebhookSigningSecrets {
  secret: string;
  previous: { secret: string; expiresAt: Date } | null;
}

export interface NewWebhookEndpointWithSecret {
  endpoint: WebhookEndpoint;
  secret: string;
}

/** What a delivery worker needs to send to an endpoint (cached briefly by the worker). */
export interface WebhookEndpointTarget {
  id: string;
  accountId: string;
  url: string;
  enabled: boolean;
  /** Current first, then the previous one while it is valid. */
  secrets: string[];
  failingSince: Date | null;
}

export type WebhookDeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface WebhookDelivery {
  id: string;
  accountId: string;
  /** Null for a delivery to the call's own webhookUrl. */
  endpointId: string | null;
  /** The call's webhookUrl, for a delivery without endpoint. */
  url: string | null;
  eventId: string;
  eventType: string;
  callId: string | null;
  status: WebhookDeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  responseStatus: number | null;
  /** The first 1 KiB of the last response body. */
  responseBody: string | null;
  latencyMs: number | null;
  error: string | null;
  eventAt: Date;
  createdAt: Date;
  deliveredAt: Date | null;
}

export interface WebhookAttempt {
  number: number;
  at: Date;
  url: string;
  responseStatus: number | null;
  responseBody: string | null;
  latencyMs: number;
  error: string | null;
}

export interface WebhookDeliveryWithAttempts extends WebhookDelivery {
  attemptLog: WebhookAttempt[];
  /** The JSON body as signed and sent. */
  body: string;
}

export interface ListWebhookDeliveriesQuery {
  status?: WebhookDeliveryStatus;
  /** 1 to 100; default 20. */
  limit?: number;
  cursor?: string | null;
}

export interface WebhookDeliveryPage {
  /** Newest first. */
  deliveries: WebhookDelivery[];
  nextCursor: string | null;
}

/** A delivery to create: its id is derived from (eventId, target), so creating it twice creates it once. */
export interface NewWebhookDelivery {
  accountId: string;
  endpointId: string | null;
  /** Only when endpointId is null. */
  url: string | null;
  eventId: string;
  eventType: string;
  callId: string | null;
  /** The call event's sequence; null (or absent) for other events. */
  sequence?: number | null;
  body: string;
  eventAt: Date;
}

/** A delivery as the worker takes it (its job carries only the id). */
export interface PendingWebhookDelivery {
  id: string;
  accountId: string;
  endpointId: string | null;
  url: string | null;
  eventId: string;
  /** The call and the event's sequence, for a call event (deliveries of one call go out in this order); null otherwise. */
  callId: string | null;
  sequence: number | null;
  body: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  eventAt: Date;
}

/** One attempt's outcome, as the worker records it. */
export interface WebhookAttemptRecord {
  deliveryId: string;
  /** 1 for the first. */
  number: number;
  at: Date;
  url: string;
  responseStatus: number | null;
  responseBody: string | null;
  latencyMs: number;
  error: string | null;
  /** The delivery's status after this attempt. */
  status: WebhookDeliveryStatus;
  /** When the next attempt is due (status pending). */
  nextAttemptAt: Date | null;
}
