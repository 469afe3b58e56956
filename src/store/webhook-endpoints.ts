/**
 * Webhook endpoints of an account, their signing secrets (sealed with the service's key, since
 * they are shown again), the account's own secret for calls' `webhookUrl`, and the read side of
 * deliveries for the API. Every query is scoped to the account: another account's endpoint is
 * NotFound, like one that does not exist.
 */
import { decodeKeysetCursor, encodeKeysetCursor } from './keyset-cursor.js';
import type { WallClock } from './clock.js';
import { InvalidArgument, NotFound } from './errors.js';
import type * as Rows from './generated/prisma/client.js';
import type {
  ListWebhookDeliveriesQuery,
  NewWebhookEndpoint,
  NewWebhookEndpointWithSecret,
  WebhookAttempt,
  WebhookDelivery,
  WebhookDeliveryPage,
  WebhookDeliveryStatus,
  WebhookDeliveryWithAttempts,
  WebhookDisabledReason,
  WebhookEndpoint,
  WebhookEndpointTarget,
  WebhookEndpointUpdate,
  WebhookSigningSecrets,
} from './model.js';
import { isForeignKeyViolation, type Prisma, type PrismaClient } from './prisma-client.js';
import { newId, newWebhookSecret } from './random-text.js';
import type { SecretBox } from './secret-box.js';

/** How long the secret before a rotation keeps signing alongside the new one. */
export const PREVIOUS_SECRET_VALID_MS = 24 * 3600_000;
const DEFAULT_PAGE = 20;
const MAX_PAGE = 100;
const MAX_URL_LENGTH = 2048;
const DELIVERY_STATUSES: readonly WebhookDeliveryStatus[] = ['pending', 'succeeded', 'failed'];

/** The AAD of an endpoint's sealed secrets: a ciphertext copied onto another row does not open. */
const sealedFor = (endpointId: string): string => `webhook_endpoint:${endpointId}`;

export class WebhookEndpointRepository {
  constructor(
    private readonly db: PrismaClient,
    private readonly clock: WallClock,
    private readonly box: SecretBox,
  ) {}

  /** A new endpoint with a new secret (`whsec_…`), returned this once alongside it. */
  async createWebhookEndpoint(accountId: string, input: NewWebhookEndpoint): Promise<NewWebhookEndpointWithSecret> {
    validate(input, true);
    const id = newId('whe');
    const secret = newWebhookSecret();
    const now = this.clock();
    try {
      const row = await this.db.webhookEndpoint.create({
        data: {
          id,
          accountId,
          url: input.url,
          description: input.description ?? null,
          events: normaliseEvents(input.events ?? ['*']),
          enabled: input.enabled ?? true,
          secretEncrypted: this.box.seal(secret, sealedFor(id)),
          createdAt: now,
          updatedAt: now,
        },
      });
      return { endpoint: toEndpoint(row), secret };
    } catch (error) {
      if (isForeignKeyViolation(error)) throw new NotFound('account', accountId);
      throw error;
    }
  }

  /** Oldest first. */
  async listWebhookEndpoints(accountId: string): Promise<WebhookEndpoint[]> {
    const rows = await this.db.webhookEndpoint.findMany({ where: { accountId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    return rows.map(toEndpoint);
  }

  async getWebhookEndpoint(accountId: string, id: string): Promise<WebhookEndpoint | null> {
    const row = await this.db.webhookEndpoint.findFirst({ where: { id, accountId } });
    return row ? toEndpoint(row) : null;
  }

  async updateWebhookEndpoint(accountId: string, id: string, update: WebhookEndpointUpdate): Promise<WebhookEndpoint> {
    validate(update, false);
    const data: Prisma.WebhookEndpointUpdateManyMutationInput = { updatedAt: this.clock() };
    if (update.url !== undefined) data.url = update.url;
    if (update.description !== undefined) data.description = update.description;
    if (update.events !== undefined) data.events = normaliseEvents(update.events);
    if (update.enabled !== undefined) {
      data.enabled = update.enabled;
      // Turning it back on is the owner saying the receiver is fixed: the 5-day count starts again.
      if (update.enabled) Object.assign(data, { disabledAt: null, disabledReason: null, failingSince: null });
    }
    const { count } = await this.db.webhookEndpoint.updateMany({ where: { id, accountId }, data });
    if (count === 0) throw new NotFound('webhook_endpoint', id);
    return toEndpoint(await this.db.webhookEndpoint.findUniqueOrThrow({ where: { id } }));
  }

  /** Its deliveries go with it. */
  async deleteWebhookEndpoint(accountId: string, id: string): Promise<void> {
    const { count } = await this.db.webhookEndpoint.deleteMany({ where: { id, accountId } });
    if (count === 0) throw new NotFound('webhook_endpoint', id);
  }

  /** The secrets signing the endpoint's deliveries now; null for an unknown endpoint. */
  async webhookSigningSecrets(accountId: string, id: string): Promise<WebhookSigningSecrets | null> {
    const row = await this.db.webhookEndpoint.findFirst({ where: { id, accountId } });
    return row ? this.secretsOf(row) : null;
  }

  /**
   * A new secret; the current one becomes the previous one and keeps signing for 24 hours (a
   * previous one still valid from an earlier rotation stops at once).
   */
  async rotateWebhookSecret(accountId: string, id: string): Promise<WebhookSigningSecrets> {
    const now = this.clock();
    return this.db.$transaction(async (tx) => {
      const row = await tx.webhookEndpoint.findFirst({ where: { id, accountId } });
      if (row === null) throw new NotFound('webhook_endpoint', id);
      const updated = await tx.webhookEndpoint.update({
        where: { id },
        data: {
          secretEncrypted: this.box.seal(newWebhookSecret(), sealedFor(id)),
          previousSecretEncrypted: row.secretEncrypted,
          previousSecretExpiresAt: new Date(now.getTime() + PREVIOUS_SECRET_VALID_MS),
          updatedAt: now,
        },
      });
      return this.secretsOf(updated);
    });
  }

  /** The account's secret for calls' own webhookUrl (created on first use for accounts made without one). */
  async accountWebhookSecrets(accountId: string): Promise<WebhookSigningSecrets | null> {
    const row = await this.db.account.findUnique({ where: { id: accountId } });
    if (row === null) return null;
    if (row.webhookSecret === null) {
      const secret = newWebhookSecret();
      const { count } = await this.db.account.updateMany({ where: { id: accountId, webhookSecret: null }, data: { webhookSecret: secret } });
      if (count === 0) return this.accountWebhookSecrets(accountId);
      return { secret, previous: null };
    }
    return accountSecretsOf(row, this.clock());
  }

  async rotateAccountWebhookSecret(accountId: string): Promise<WebhookSigningSecrets> {
    const now = this.clock();
    const current = await this.accountWebhookSecrets(accountId);
    if (current === null) throw new NotFound('account', accountId);
    const row = await this.db.account.update({
      where: { id: accountId },
      data: { webhookSecret: newWebhookSecret(), webhookSecretPrevious: current.secret, webhookSecretPreviousExpiresAt: new Date(now.getTime() + PREVIOUS_SECRET_VALID_MS) },
    });
    return accountSecretsOf(row, now);
  }

  /** For the delivery worker: the endpoint's URL, state and valid secrets (null when deleted). */
  async webhookEndpointTarget(id: string): Promise<WebhookEndpointTarget | null> {
    const row = await this.db.webhookEndpoint.findUnique({ where: { id } });
    if (row === null) return null;
    const secrets = this.secretsOf(row);
    return {
      id: row.id,
      accountId: row.accountId,
      url: row.url,
      enabled: row.enabled,
      secrets: [secrets.secret, ...(secrets.previous ? [secrets.previous.secret] : [])],
      failingSince: row.failingSince,
    };
  }

  /** Enabled endpoints of these accounts, for the dispatcher's fan-out. */
  async enabledWebhookEndpoints(accountIds: readonly string[]): Promise<WebhookEndpoint[]> {
    if (accountIds.length === 0) return [];
    const rows = await this.db.webhookEndpoint.findMany({ where: { accountId: { in: [...accountIds] }, enabled: true }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    return rows.map(toEndpoint);
  }

  /** Newest first, keyset-paginated on (createdAt, id). */
  async listWebhookDeliveries(accountId: string, endpointId: string, query: ListWebhookDeliveriesQuery = {}): Promise<WebhookDeliveryPage | null> {
    if ((await this.db.webhookEndpoint.findFirst({ where: { id: endpointId, accountId }, select: { id: true } })) === null) return null;
    const limit = Math.min(MAX_PAGE, Math.max(1, Math.trunc(query.limit ?? DEFAULT_PAGE)));
    const and: Prisma.WebhookDeliveryWhereInput[] = [{ accountId, endpointId }];
    if (query.status !== undefined) {
      if (!DELIVERY_STATUSES.includes(query.status)) throw new InvalidArgument('status', `not one of ${DELIVERY_STATUSES.join(', ')}`);
      and.push({ status: query.status });
    }
    if (query.cursor) {
      const cursor = decodeKeysetCursor(query.cursor, 'whd_');
      and.push({ OR: [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: cursor.id } }] });
    }
    const rows = await this.db.webhookDelivery.findMany({ where: { AND: and }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: limit + 1 });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { deliveries: page.map(toDelivery), nextCursor: rows.length > limit && last ? encodeKeysetCursor(last) : null };
  }

  /** The deliveries of a call's events, in event order (at most 500); null for another account's call or none. */
  async callWebhookDeliveries(accountId: string, callId: string): Promise<WebhookDelivery[] | null> {
    if ((await this.db.call.findFirst({ where: { id: callId, accountId }, select: { id: true } })) === null) return null;
    const rows = await this.db.webhookDelivery.findMany({ where: { accountId, callId }, orderBy: [{ eventAt: 'asc' }, { id: 'asc' }], take: 500 });
    return rows.map(toDelivery);
  }

  /** A delivery of this account with its attempts and body; null when unknown. */
  async getWebhookDelivery(accountId: string, id: string): Promise<WebhookDeliveryWithAttempts | null> {
    const row = await this.db.webhookDelivery.findFirst({ where: { id, accountId }, include: { attemptLog: { orderBy: { number: 'asc' } } } });
    if (row === null) return null;
    return { ...toDelivery(row), body: row.body, attemptLog: row.attemptLog.map(toAttempt) };
  }

  private secretsOf(row: Rows.WebhookEndpoint): WebhookSigningSecrets {
    const now = this.clock().getTime();
    const secret = this.box.open(row.secretEncrypted, sealedFor(row.id));
    const previousValid = row.previousSecretEncrypted !== null && row.previousSecretExpiresAt !== null && row.previousSecretExpiresAt.getTime() > now;
    return {
      secret,
      previous: previousValid ? { secret: this.box.open(row.previousSecretEncrypted!, sealedFor(row.id)), expiresAt: row.previousSecretExpiresAt! } : null,
    };
  }
}

function accountSecretsOf(row: Rows.Account, now: Date): WebhookSigningSecrets {
  const previousValid = row.webhookSecretPrevious !== null && row.webhookSecretPreviousExpiresAt !== null && row.webhookSecretPreviousExpiresAt.getTime() > now.getTime();
  return {
    secret: row.webhookSecret!,
    previous: previousValid ? { secret: row.webhookSecretPrevious!, expiresAt: row.webhookSecretPreviousExpiresAt! } : null,
  };
}

function normaliseEvents(events: readonly string[]): string[] {
  return events.includes('*') ? ['*'] : [...new Set(events)].sort();
}

function validate(input: WebhookEndpointUpdate, creating: boolean): void {
  if (creating || input.url !== undefined) {
    if (typeof input.url !== 'string' || input.url.length > MAX_URL_LENGTH) throw new InvalidArgument('url', `not a URL of at most ${MAX_URL_LENGTH} characters`);
    let parsed: URL;
    try {
      parsed = new URL(input.url);
    } catch {
      throw new InvalidArgument('url', 'not an absolute URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new InvalidArgument('url', 'not an http or https URL');
  }
  if (input.events !== undefined) {
    if (!Array.isArray(input.events) || input.events.length === 0) throw new InvalidArgument('events', 'empty');
    if (input.events.some((type) => typeof type !== 'string' || type === '')) throw new InvalidArgument('events', 'holds an empty type');
  }
}

export function toEndpoint(row: Rows.WebhookEndpoint): WebhookEndpoint {
  return {
    id: row.id,
    accountId: row.accountId,
    url: row.url,
    description: row.description,
    events: row.events,
    enabled: row.enabled,
    previousSecretExpiresAt: row.previousSecretExpiresAt,
    failingSince: row.failingSince,
    disabledAt: row.disabledAt,
    disabledReason: row.disabledReason as WebhookDisabledReason | null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export function toDelivery(row: Rows.WebhookDelivery): WebhookDelivery {
  return {
    id: row.id,
    accountId: row.accountId,
    endpointId: row.endpointId,
    url: row.url,
    eventId: row.eventId,
    eventType: row.eventType,
    callId: row.callId,
    status: row.status as WebhookDeliveryStatus,
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt,
    lastAttemptAt: row.lastAttemptAt,
    responseStatus: row.responseStatus,
    responseBody: row.responseBody,
    latencyMs: row.latencyMs,
    error: row.error,
    eventAt: row.eventAt,
    createdAt: row.createdAt,
    deliveredAt: row.deliveredAt,
  };
}

function toAttempt(row: Rows.WebhookAttempt): WebhookAttempt {
  return { number: row.number, at: row.at, url: row.url, responseStatus: row.responseStatus, responseBody: row.responseBody, latencyMs: row.latencyMs, error: row.error };
}
