// Prisma 7 reads its settings here rather than from schema.prisma. The CLI is used to generate the
// client (npm run db:generate, also run by postinstall); migrations are applied by the store's own
// runner (npm run db:migrate, src/store/migrator.ts), which keeps Prisma's _prisma_migrations
// bookkeeping, so `prisma migrate status` / `migrate deploy` agree with it wherever the Prisma
// schema engine binary is available.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: {
    // Only the migrate/db commands of the CLI connect; `prisma generate` needs no database.
    url: process.env.DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/click_to_dial',
  },
});
