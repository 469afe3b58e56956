#!/usr/bin/env node
// `prisma generate` that works offline (npm run db:generate, and postinstall so that `npm ci` yields
// a client). Prisma 7's CLI fetches its native schema engine from Prisma's CDN before running any
// command, generate included, although generate does not use it (the client is built with the
// bundled Wasm modules). When no engine is given, point the CLI at a stand-in that explains itself
// if anything does run it; a real engine named in PRISMA_SCHEMA_ENGINE_BINARY is used as it is.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
let cli;
try {
  cli = createRequire(import.meta.url).resolve('prisma/build/index.js');
} catch {
  console.warn('[db:generate] the prisma CLI is not installed (npm ci --omit=dev?): the Prisma client was not generated');
  process.exit(0);
}
const env = { ...process.env };
env.PRISMA_SCHEMA_ENGINE_BINARY ||= fileURLToPath(new URL('./schema-engine-unavailable.sh', import.meta.url));
env.PRISMA_HIDE_UPDATE_MESSAGE = '1';
const result = spawnSync(process.execPath, [cli, 'generate', ...process.argv.slice(2)], { cwd: root, env, stdio: 'inherit' });
process.exit(result.status ?? 1);
