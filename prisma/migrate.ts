// npm run db:migrate: creates the database named by DATABASE_URL when it is missing, then applies
// prisma/migrations (src/store/migrator.ts). Tooling, like prisma.config.ts: it reads the
// environment itself.
import { ensureDatabase, migrate } from '../src/store/index.js';

const databaseUrl = process.env.DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/click_to_dial';
const redacted = databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
try {
  if (await ensureDatabase(databaseUrl)) console.log(`created database ${redacted}`);
  const { applied, alreadyApplied } = await migrate(databaseUrl);
  for (const name of applied) console.log(`applied ${name}`);
  console.log(`${redacted}: ${applied.length} migration(s) applied, ${alreadyApplied.length} already there`);
} catch (error) {
  console.error(`db:migrate: ${(error as Error).message}`);
  process.exitCode = 1;
}
