/**
 * Applies prisma/migrations/<name>/migration.sql in name order, each in its own transaction, and
 * records them in Prisma's own `_prisma_migrations` table under Prisma's advisory lock. It is what
 * `prisma migrate deploy` does, without the Prisma schema engine: that native binary is downloaded
 * from Prisma's CDN on first use, which a machine that reaches only the npm registry cannot do.
 * Because the bookkeeping is Prisma's, `prisma migrate status|deploy|dev` agree with this runner
 * wherever the engine is available.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { MigrationFailed } from './errors.js';

/** The key Prisma Migrate locks (pg_advisory_lock) while it migrates a PostgreSQL database. */
const PRISMA_ADVISORY_LOCK = 72707369;

export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations/', import.meta.url));

const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrateOptions {
  /** Default: the repository's prisma/migrations. */
  migrationsDir?: string;
}

export interface MigrateResult {
  /** Migrations applied by this run, in order. */
  applied: string[];
  /** Migrations found already applied. */
  alreadyApplied: string[];
}

interface AppliedRow {
  migration_name: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

export async function migrate(databaseUrl: string, options: MigrateOptions = {}): Promise<MigrateResult> {
  const dir = options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR;
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK]);
    await client.query(CREATE_MIGRATIONS_TABLE);
    const rows = (await client.query<AppliedRow>('SELECT migration_name, finished_at, rolled_back_at FROM "_prisma_migrations"')).rows;
    const done = new Set(rows.filter((row) => row.finished_at !== null && row.rolled_back_at === null).map((row) => row.migration_name));
    // Like Prisma (P3009): a migration that started and neither finished nor was rolled back needs a person.
    const stuck = rows.find((row) => row.finished_at === null && row.rolled_back_at === null);
    if (stuck) throw new MigrationFailed(stuck.migration_name, 'failed earlier and was not resolved (`prisma migrate resolve`)');
    const result: MigrateResult = { applied: [], alreadyApplied: [] };
    for (const name of names) {
      if (done.has(name)) {
        result.alreadyApplied.push(name);
        continue;
      }
      const script = await readFile(join(dir, name, 'migration.sql'), 'utf8');
      const checksum = createHash('sha256').update(script, 'utf8').digest('hex');
      try {
        await client.query('BEGIN');
        await client.query(script);
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
           VALUES ($1, $2, $3, now(), now(), 1)`,
          [randomUUID(), checksum, name],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new MigrationFailed(name, (error as Error).message, { cause: error });
      }
      result.applied.push(name);
    }
    return result;
  } finally {
    // Ending the session releases the advisory lock.
    await client.end();
  }
}
