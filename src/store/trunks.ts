/** SIP trunks of an account. Passwords are sealed with SecretBox and only trunkCredentials() opens them. */
import type { WallClock } from './clock.js';
import { InvalidArgument, NotFound } from './errors.js';
import type { NewTrunk, NumberFormat, SipTransport, Trunk, TrunkCredentials, TrunkUpdate } from './model.js';
import { isForeignKeyViolation, type Prisma, type PrismaClient } from './prisma-client.js';
import { newId } from './random-text.js';
import { toTrunk } from './records.js';
import type { SecretBox } from './secret-box.js';

const TRANSPORTS: readonly SipTransport[] = ['udp', 'tcp', 'tls'];
const NUMBER_FORMATS: readonly NumberFormat[] = ['e164', 'national', 'as-is'];

export class TrunkRepository {
  constructor(
    private readonly db: PrismaClient,
    private readonly clock: WallClock,
    private readonly box: SecretBox,
  ) {}

  async createTrunk(accountId: string, input: NewTrunk): Promise<Trunk> {
    validate(input, true);
    const id = newId('trk');
    const now = this.clock();
    try {
      const row = await this.db.$transaction(async (tx) => {
        if (input.isDefault) await tx.trunk.updateMany({ where: { accountId, isDefault: true }, data: { isDefault: false, updatedAt: now } });
        return tx.trunk.create({
          data: {
            id,
            accountId,
            name: input.name,
            host: input.host,
            port: input.port ?? 5060,
            transport: input.transport ?? 'udp',
            username: input.username ?? null,
            passwordEncrypted: input.password ? this.box.seal(input.password, id) : null,
            realm: input.realm ?? null,
            fromDomain: input.fromDomain ?? null,
            numberFormat: input.numberFormat ?? 'e164',
            isDefault: input.isDefault ?? false,
            createdAt: now,
            updatedAt: now,
          },
        });
      });
      return toTrunk(row);
    } catch (error) {
      if (isForeignKeyViolation(error)) throw new NotFound('account', accountId);
      throw error;
    }
  }

  /** Oldest first. */
  async listTrunks(accountId: string): Promise<Trunk[]> {
    const rows = await this.db.trunk.findMany({ where: { accountId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    return rows.map(toTrunk);
  }

  async getTrunk(accountId: string, id: string): Promise<Trunk | null> {
    const row = await this.db.trunk.findFirst({ where: { id, accountId } });
    return row ? toTrunk(row) : null;
  }

  async getDefaultTrunk(accountId: string): Promise<Trunk | null> {
    const row = await this.db.trunk.findFirst({ where: { accountId, isDefault: true }, orderBy: { updatedAt: 'desc' } });
    return row ? toTrunk(row) : null;
  }

  async updateTrunk(accountId: string, id: string, update: TrunkUpdate): Promise<Trunk> {
    validate(update, false);
    const now = this.clock();
    const data: Prisma.TrunkUpdateInput = { updatedAt: now };
    if (update.name !== undefined) data.name = update.name;
    if (update.host !== undefined) data.host = update.host;
    if (update.port !== undefined) data.port = update.port;
    if (update.transport !== undefined) data.transport = update.transport;
    if (update.username !== undefined) data.username = update.username;
    if (update.password !== undefined) data.passwordEncrypted = update.password ? this.box.seal(update.password, id) : null;
    if (update.realm !== undefined) data.realm = update.realm;
    if (update.fromDomain !== undefined) data.fromDomain = update.fromDomain;
    if (update.numberFormat !== undefined) data.numberFormat = update.numberFormat;
    if (update.isDefault !== undefined) data.isDefault = update.isDefault;
    const row = await this.db.$transaction(async (tx) => {
      const owned = await tx.trunk.findFirst({ where: { id, accountId }, select: { id: true } });
      if (owned === null) throw new NotFound('trunk', id);
      if (update.isDefault) await tx.trunk.updateMany({ where: { accountId, isDefault: true, id: { not: id } }, data: { isDefault: false, updatedAt: now } });
      return tx.trunk.update({ where: { id }, data });
    });
    return toTrunk(row);
  }

  /** Legs that named the trunk keep their calls and lose the reference. */
  async deleteTrunk(accountId: string, id: string): Promise<void> {
    const { count } = await this.db.trunk.deleteMany({ where: { id, accountId } });
    if (count === 0) throw new NotFound('trunk', id);
  }

  /** The decrypted credentials, for the engine only; never for an API response. */
  async trunkCredentials(accountId: string, id: string): Promise<TrunkCredentials | null> {
    const row = await this.db.trunk.findFirst({ where: { id, accountId }, select: { username: true, passwordEncrypted: true, realm: true } });
    if (row === null) return null;
    return {
      trunkId: id,
      username: row.username,
      password: row.passwordEncrypted === null ? null : this.box.open(row.passwordEncrypted, id),
      realm: row.realm,
    };
  }
}

function validate(input: TrunkUpdate, creating: boolean): void {
  if (creating || input.name !== undefined) {
    if (typeof input.name !== 'string' || input.name.trim() === '') throw new InvalidArgument('name', 'empty');
  }
  if (creating || input.host !== undefined) {
    if (typeof input.host !== 'string' || input.host.trim() === '' || /\s/.test(input.host)) throw new InvalidArgument('host', 'empty or holds whitespace');
  }
  if (input.port !== undefined && (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535)) throw new InvalidArgument('port', 'not a port number (1-65535)');
  if (input.transport !== undefined && !TRANSPORTS.includes(input.transport)) throw new InvalidArgument('transport', `not one of ${TRANSPORTS.join(', ')}`);
  if (input.numberFormat !== undefined && !NUMBER_FORMATS.includes(input.numberFormat)) throw new InvalidArgument('numberFormat', `not one of ${NUMBER_FORMATS.join(', ')}`);
}
