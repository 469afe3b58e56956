#!/usr/bin/env node
// Runs every test file under test/ (or the files/folders given) with Node's own test runner
// through tsx, so the closing summary ("ℹ pass N", "ℹ fail N") is the runner's own.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function collect(path, out) {
  if (statSync(path).isDirectory()) {
    for (const entry of readdirSync(path).sort()) collect(join(path, entry), out);
  } else if (path.endsWith('.test.ts')) {
    out.push(path);
  }
  return out;
}

const roots = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith('--'));
const files = (roots.length ? roots : ['test']).flatMap((root) => collect(root, []));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// A test that never settles fails after TEST_TIMEOUT_MS (default 180 s, three times the longest
// test) with its name, rather than holding the whole run until CI gives up on it.
const timeoutMs = Number(process.env.TEST_TIMEOUT_MS ?? 180_000);
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${timeoutMs}`, '--test-reporter=spec', ...passThrough, ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
