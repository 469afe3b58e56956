/** Accounts: every other record belongs to one, and no account sees another's. */
import type { WallClock } from './clock.js';
import type { PrismaClient } from './prisma-client.js';
import type { Account } from './model.js';
import { newId, newWebhookSecret } from './random-text.js';
import { toAccount } from './records.js';
import { InvalidArgument } from './errors.js';

export class AccountRepository {
  constructor(
    private readonly db: PrismaClient,
    private readonly clock: WallClock,
  ) {}

  /** A new account, with its own Standard Webhooks signing secret. */
  async createAccount(name: string): Promise<Account> {
    if (name.trim() === '') throw new InvalidArgument('name', 'empty');
    const row = await this.db.account.create({
      data: { id: newId('acc'), name, createdAt: this.clock(), webhookSecret: newWebhookSecret() },
    });
    return toAccount(row);
  }

  async getAccount(id: string): Promise<Account | null> {
    const row = await this.db.account.findUnique({ where: { id } });
    return row ? toAccount(row) : null;
  }

  /** The secret that signs this account's webhooks (`whsec_…`); null for an unknown account. */
  async webhookSecret(accountId: string): Promise<string | null> {
    const row = await this.db.account.findUnique({ where: { id: accountId }, select: { webhookSecret: true } });
    return row?.webhookSecret ?? null;
  }
}
