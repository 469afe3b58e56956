/**
 * API keys. The secret (`ctd_` + 32 base62) is shown once and stored only as its SHA-256: a fast
 * hash is the right one here, since the secret is 190 random bits, not a password to stretch.
 */
import type { WallClock } from './clock.js';
import { NotFound, InvalidArgument } from './errors.js';
import type { ApiKey, Authenticated, NewApiKey } from './model.js';
import { isForeignKeyViolation, isUniqueViolation, type PrismaClient } from './prisma-client.js';
import { API_KEY_PREFIX_LENGTH, newApiKeySecret, newId, newWebhookSecret, sha256Hex } from './random-text.js';
import { toApiKey } from './records.js';

export interface ApiKeyOptions {
  /** How long a successful authentication is remembered, ms (a revoked key may work this long on other processes). Default 5000. */
  authCacheMs?: number;
  /** lastUsedAt is written at most this often per key, ms. Default 60000. */
  touchIntervalMs?: number;
  /** Entries of the authentication cache. Default 10000. */
  authCacheSize?: number;
}

interface CachedKey {
  auth: Authenticated;
  expiresAt: number;
  lastUsedAt: number | null;
}

export interface BootstrapResult extends Authenticated {
  created: boolean;
}

const MAX_SECRET_LENGTH = 256;

export class ApiKeyRepository {
  private readonly cache = new Map<string, CachedKey>();
  private readonly cacheMs: number;
  private readonly touchIntervalMs: number;
  private readonly cacheSize: number;

  constructor(
    private readonly db: PrismaClient,
    private readonly clock: WallClock,
    options: ApiKeyOptions = {},
  ) {
    this.cacheMs = options.authCacheMs ?? 5000;
    this.touchIntervalMs = options.touchIntervalMs ?? 60_000;
    this.cacheSize = options.authCacheSize ?? 10_000;
  }

  async createApiKey(accountId: string, name: string): Promise<NewApiKey> {
    if (name.trim() === '') throw new InvalidArgument('name', 'empty');
    const secret = newApiKeySecret();
    try {
      const row = await this.db.apiKey.create({
        data: {
          id: newId('key'),
          accountId,
          name,
          prefix: secret.slice(0, API_KEY_PREFIX_LENGTH),
          hash: sha256Hex(secret),
          createdAt: this.clock(),
        },
      });
      return { key: toApiKey(row), secret };
    } catch (error) {
      if (isForeignKeyViolation(error)) throw new NotFound('account', accountId);
      throw error;
    }
  }

  /** The account and key a secret stands for; null when it is unknown or revoked. */
  async authenticate(secret: string): Promise<Authenticated | null> {
    if (typeof secret !== 'string' || secret.length === 0 || secret.length > MAX_SECRET_LENGTH) return null;
    const hash = sha256Hex(secret);
    const now = this.clock().getTime();
    let entry = this.cache.get(hash);
    if (entry === undefined || entry.expiresAt <= now) {
      this.cache.delete(hash);
      const row = await this.db.apiKey.findUnique({ where: { hash }, select: { id: true, accountId: true, revokedAt: true, lastUsedAt: true } });
      if (row === null || row.revokedAt !== null) return null;
      entry = { auth: { accountId: row.accountId, keyId: row.id }, expiresAt: now + this.cacheMs, lastUsedAt: row.lastUsedAt?.getTime() ?? null };
      this.remember(hash, entry);
    }
    if (entry.lastUsedAt === null || now - entry.lastUsedAt >= this.touchIntervalMs) {
      entry.lastUsedAt = now;
      // The condition keeps several processes from each writing it within the same minute.
      await this.db.apiKey.updateMany({
        where: { id: entry.auth.keyId, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: new Date(now - this.touchIntervalMs) } }] },
        data: { lastUsedAt: new Date(now) },
      });
    }
    return { ...entry.auth };
  }

  /** Newest first, revoked ones included (with revokedAt). */
  async listApiKeys(accountId: string): Promise<ApiKey[]> {
    const rows = await this.db.apiKey.findMany({ where: { accountId }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
    return rows.map(toApiKey);
  }

  /** Revokes a key of this account (again: no change); NotFound for another account's key. */
  async revokeApiKey(accountId: string, id: string): Promise<ApiKey> {
    await this.db.apiKey.updateMany({ where: { id, accountId, revokedAt: null }, data: { revokedAt: this.clock() } });
    const row = await this.db.apiKey.findFirst({ where: { id, accountId } });
    if (row === null) throw new NotFound('api_key', id);
    for (const [hash, entry] of this.cache) if (entry.auth.keyId === id) this.cache.delete(hash);
    return toApiKey(row);
  }

  /**
   * BOOTSTRAP_API_KEY: when no key has this secret's hash, creates the account "default" and a key
   * with this secret. Idempotent, also when several processes start at once; a bootstrap key that
   * was revoked stays revoked.
   */
  async bootstrap(secret: string): Promise<BootstrapResult> {
    if (secret.length < 20 || secret.length > MAX_SECRET_LENGTH) throw new InvalidArgument('BOOTSTRAP_API_KEY', 'must be 20 to 256 characters');
    const hash = sha256Hex(secret);
    const existing = await this.db.apiKey.findUnique({ where: { hash } });
    if (existing) return { accountId: existing.accountId, keyId: existing.id, created: false };
    const now = this.clock();
    const keyId = newId('key');
    try {
      const account = await this.db.account.create({
        data: {
          id: newId('acc'),
          name: 'default',
          createdAt: now,
          webhookSecret: newWebhookSecret(),
          apiKeys: { create: { id: keyId, name: 'bootstrap', prefix: secret.slice(0, API_KEY_PREFIX_LENGTH), hash, createdAt: now } },
        },
      });
      return { accountId: account.id, keyId, created: true };
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      const winner = await this.db.apiKey.findUniqueOrThrow({ where: { hash } });
      return { accountId: winner.accountId, keyId: winner.id, created: false };
    }
  }

  private remember(hash: string, entry: CachedKey): void {
    if (this.cache.size >= this.cacheSize) {
      // Maps iterate in insertion order: the first entry is the oldest.
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(hash, entry);
  }
}
