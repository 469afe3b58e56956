/**
 * Dial buttons of an account, and the calls placed through them (issue 6). A button call is found
 * by the SHA-256 of its public token: the token itself is never stored, so a database leak does not
 * hand out live call tokens. The API validates patterns, origins and hours on the way in; the store
 * checks what keeps a row meaningful (a name, a destination, positive limits).
 */
import type { WallClock } from './clock.js';
import { InvalidArgument, NotFound } from './errors.js';
import type { Button as ButtonRow } from './generated/prisma/client.js';
import type { BusinessHours, Button, ButtonCallStatus, ButtonLimits, ButtonUpdate, CallStatus, LegName, NewButton } from './model.js';
import { isForeignKeyViolation, Prisma, type PrismaClient } from './prisma-client.js';
import { newId } from './random-text.js';

export const DEFAULT_BUTTON_LIMITS: ButtonLimits = { perIpPerHour: 5, perNumberPerHour: 3, perButtonPerHour: 100, perDay: 500 };
export const DEFAULT_BUTTON_COLORS = { background: '#0b5fff', text: '#ffffff' } as const;

export class ButtonRepository {
  constructor(
    private readonly db: PrismaClient,
    private readonly clock: WallClock,
  ) {}

  async createButton(accountId: string, input: NewButton): Promise<Button> {
    validate(input, true);
    const now = this.clock();
    const limits = { ...DEFAULT_BUTTON_LIMITS, ...input.limits };
    const colors = input.colors ?? DEFAULT_BUTTON_COLORS;
    try {
      const row = await this.db.button.create({
        data: {
          id: newId('btn'),
          accountId,
          name: input.name,
          destination: input.destination,
          trunkId: input.trunkId ?? null,
          callerId: input.callerId ?? null,
          label: input.label ?? 'Call me',
          colorBackground: colors.background,
          colorText: colors.text,
          allowedOrigins: [...input.allowedOrigins],
          numberPatterns: [...(input.numberPatterns ?? [])],
          allowPremiumRate: input.allowPremiumRate ?? false,
          businessHours: hoursJson(input.businessHours ?? null),
          limitPerIpHour: limits.perIpPerHour,
          limitPerNumberHour: limits.perNumberPerHour,
          limitPerButtonHour: limits.perButtonPerHour,
          limitPerDay: limits.perDay,
          enabled: input.enabled ?? true,
          createdAt: now,
          updatedAt: now,
        },
      });
      return toButton(row);
    } catch (error) {
      if (isForeignKeyViolation(error)) throw new NotFound('account', accountId);
      throw error;
    }
  }

  /** Newest first. */
  async listButtons(accountId: string): Promise<Button[]> {
    const rows = await this.db.button.findMany({ where: { accountId }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] });
    return rows.map(toButton);
  }

  async getButton(accountId: string, id: string): Promise<Button | null> {
    const row = await this.db.button.findFirst({ where: { id, accountId } });
    return row ? toButton(row) : null;
  }

  /** Any account's button, by id alone: for the public endpoints, which have no account. */
  async findButton(id: string): Promise<Button | null> {
    const row = await this.db.button.findUnique({ where: { id } });
    return row ? toButton(row) : null;
  }

  async updateButton(accountId: string, id: string, update: ButtonUpdate): Promise<Button> {
    validate(update, false);
    const data: Prisma.ButtonUpdateManyMutationInput = { updatedAt: this.clock() };
    if (update.name !== undefined) data.name = update.name;
    if (update.destination !== undefined) data.destination = update.destination;
    if (update.trunkId !== undefined) data.trunkId = update.trunkId;
    if (update.callerId !== undefined) data.callerId = update.callerId;
    if (update.label !== undefined) data.label = update.label;
    if (update.colors !== undefined) {
      data.colorBackground = update.colors.background;
      data.colorText = update.colors.text;
    }
    if (update.allowedOrigins !== undefined) data.allowedOrigins = [...update.allowedOrigins];
    if (update.numberPatterns !== undefined) data.numberPatterns = [...update.numberPatterns];
    if (update.allowPremiumRate !== undefined) data.allowPremiumRate = update.allowPremiumRate;
    if (update.businessHours !== undefined) data.businessHours = hoursJson(update.businessHours);
    if (update.enabled !== undefined) data.enabled = update.enabled;
    if (update.limits !== undefined) {
      if (update.limits.perIpPerHour !== undefined) data.limitPerIpHour = update.limits.perIpPerHour;
      if (update.limits.perNumberPerHour !== undefined) data.limitPerNumberHour = update.limits.perNumberPerHour;
      if (update.limits.perButtonPerHour !== undefined) data.limitPerButtonHour = update.limits.perButtonPerHour;
      if (update.limits.perDay !== undefined) data.limitPerDay = update.limits.perDay;
    }
    // One statement scoped by account: another account's button is not found, never changed.
    const { count } = await this.db.button.updateMany({ where: { id, accountId }, data });
    if (count === 0) throw new NotFound('button', id);
    const row = await this.db.button.findUniqueOrThrow({ where: { id } });
    return toButton(row);
  }

  /** Calls placed through the button are kept; their public tokens stop working. */
  async deleteButton(accountId: string, id: string): Promise<void> {
    const { count } = await this.db.button.deleteMany({ where: { id, accountId } });
    if (count === 0) throw new NotFound('button', id);
  }

  /** The status of the call whose public token hashes to `tokenHash`, with its button's origins (for CORS). */
  async buttonCallStatus(tokenHash: string): Promise<ButtonCallStatus | null> {
    const row = await this.db.buttonCall.findUnique({
      where: { tokenHash },
      select: {
        buttonId: true,
        callId: true,
        button: { select: { allowedOrigins: true } },
        call: { select: { status: true, endReason: true, failedLeg: true } },
      },
    });
    if (row === null) return null;
    return {
      buttonId: row.buttonId,
      callId: row.callId,
      allowedOrigins: row.button.allowedOrigins,
      status: row.call.status as CallStatus,
      endReason: row.call.endReason,
      failedLeg: row.call.failedLeg as LegName | null,
    };
  }
}

function hoursJson(hours: BusinessHours | null): Prisma.InputJsonValue | typeof Prisma.DbNull {
  // Prisma writes SQL NULL for a Json? column only when told so explicitly.
  return hours === null ? Prisma.DbNull : (hours as unknown as Prisma.InputJsonValue);
}

function toButton(row: ButtonRow): Button {
  return {
    id: row.id,
    accountId: row.accountId,
    name: row.name,
    destination: row.destination,
    trunkId: row.trunkId,
    callerId: row.callerId,
    label: row.label,
    colors: { background: row.colorBackground, text: row.colorText },
    allowedOrigins: row.allowedOrigins,
    numberPatterns: row.numberPatterns,
    allowPremiumRate: row.allowPremiumRate,
    businessHours: (row.businessHours ?? null) as BusinessHours | null,
    limits: { perIpPerHour: row.limitPerIpHour, perNumberPerHour: row.limitPerNumberHour, perButtonPerHour: row.limitPerButtonHour, perDay: row.limitPerDay },
    enabled: row.enabled,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function validate(input: ButtonUpdate, creating: boolean): void {
  if (creating || input.name !== undefined) {
    if (typeof input.name !== 'string' || input.name.trim() === '') throw new InvalidArgument('name', 'empty');
  }
  if (creating || input.destination !== undefined) {
    if (typeof input.destination !== 'string' || input.destination.trim() === '') throw new InvalidArgument('destination', 'empty');
  }
  if (creating || input.allowedOrigins !== undefined) {
    if (!Array.isArray(input.allowedOrigins) || input.allowedOrigins.length === 0) throw new InvalidArgument('allowedOrigins', 'no origin');
  }
  for (const [name, value] of Object.entries(input.limits ?? {})) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) throw new InvalidArgument(`limits.${name}`, 'not a positive whole number');
  }
}
