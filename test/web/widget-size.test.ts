/** widget.js stays small: under 12 KiB gzipped (issue 6), measured on the bundle the API serves. */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { bundle } from '../../src/api/web-assets.js';

test('widget.js is under 12 KiB gzipped and uses no framework', async () => {
  const script = await bundle('widget/widget.ts');
  const gzipped = gzipSync(script, { level: 9 }).length;
  assert.ok(gzipped < 12 * 1024, `widget.js is ${gzipped} bytes gzipped`);
  assert.ok(script.length > 1000, 'the bundle holds the widget');
  assert.match(script, /attachShadow/);
  assert.match(script, /aria-live/);
  console.log(`widget.js: ${script.length} bytes, ${gzipped} bytes gzipped`);
});
