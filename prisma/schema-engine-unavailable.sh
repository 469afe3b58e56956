#!/bin/sh
# Stands in for Prisma's native schema engine, which is downloaded from Prisma's CDN and cannot be
# here; see prisma/generate.mjs. Migrations: npm run db:migrate (src/store/migrator.ts).
echo "the Prisma schema engine is not installed: apply migrations with 'npm run db:migrate', or set PRISMA_SCHEMA_ENGINE_BINARY to a real engine" >&2
exit 1
