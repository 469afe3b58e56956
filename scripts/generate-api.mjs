#!/usr/bin/env node
// Generates src/api/generated/openapi.ts from openapi.yaml with openapi-typescript (CONVENTIONS §7:
// contract first). The output is not committed: `npm install`/`npm ci` (postinstall), `npm run
// typecheck` and `npm run build` regenerate it, so it can never be stale.
//
//   node scripts/generate-api.mjs                 write the file (unchanged files are not touched)
//   node scripts/generate-api.mjs --check         exit 1 if the file is missing or stale
//   node scripts/generate-api.mjs --if-available  as the first, but a production install without
//                                                 devDependencies skips it instead of failing
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'openapi.yaml');
const target = join(root, 'src/api/generated/openapi.ts');
const check = process.argv.includes('--check');
const ifAvailable = process.argv.includes('--if-available');

let openapiTS;
try {
  openapiTS = await import('openapi-typescript');
} catch (error) {
  if (ifAvailable && error?.code === 'ERR_MODULE_NOT_FOUND') {
    console.log('generate-api: openapi-typescript is not installed (production install?); skipped');
    process.exit(0);
  }
  throw error;
}

/** The generated module for the contract at `url`: the same text every time for the same contract. */
export async function generate(url = pathToFileURL(source)) {
  const ast = await openapiTS.default(url, {
    // Request bodies keep their optional fields optional (`flow?:`) even when they have a default:
    // the types describe what a client may send; the validator fills the defaults in at run time.
    defaultNonNullable: false,
    silent: true,
  });
  return (
    '// Generated from openapi.yaml by `npm run generate:api` (scripts/generate-api.mjs). Do not edit.\n' +
    openapiTS.COMMENT_HEADER +
    openapiTS.astToString(ast)
  );
}

const text = await generate();
const current = await readFile(target, 'utf8').catch(() => undefined);
if (check) {
  if (current !== text) {
    console.error(`generate-api: ${target} is ${current === undefined ? 'missing' : 'stale'}; run npm run generate:api`);
    process.exit(1);
  }
} else if (current !== text) {
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, text);
  console.log(`generate-api: wrote ${target.slice(root.length + 1)}`);
}
