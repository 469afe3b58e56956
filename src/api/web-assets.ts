/**
 * The web front ends of src/web, served by the API: `/widget.js` (the dial button) and
 * `/dashboard` (the operators' call viewer), plus, in development only, `/dev/button`, a page
 * that embeds a button as a customer's site would. The TypeScript sources are bundled with esbuild
 * when first asked for (then kept in memory): no build artifact is committed or can go stale.
 * These routes are the framework's, outside the contract, like /docs.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Router, type RequestHandler, type Response } from 'express';
import { FRAMEWORK_ROUTER } from './docs.js';

export const WEB_DIR = fileURLToPath(new URL('../web/', import.meta.url));

export interface WebAssetsOptions {
  /** Serve /dev/button (WEB_TEST_PAGE): never in production. */
  testPage?: boolean;
}

/** Bundles one entry point of src/web into a minified browser script. */
export async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [`${WEB_DIR}${entry}`],
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['chrome111', 'firefox115', 'safari16'],
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

function cached(load: () => Promise<string>): () => Promise<string> {
  let promise: Promise<string> | undefined;
  return () => {
    promise ??= load().catch((error: unknown) => {
      promise = undefined;
      throw error;
    });
    return promise;
  };
}

function send(res: Response, type: string, body: string, headers: Record<string, string> = {}): void {
  res.setHeader('Content-Type', type);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.send(body);
}

const DASHBOARD_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function webAssets(options: WebAssetsOptions = {}): RequestHandler {
  const widget = cached(() => bundle('widget/widget.ts'));
  const dashboardScript = cached(() => bundle('dashboard/dashboard.ts'));
  const dashboardHtml = cached(() => readFile(`${WEB_DIR}dashboard/index.html`, 'utf8'));
  const dashboardCss = cached(() => readFile(`${WEB_DIR}dashboard/dashboard.css`, 'utf8'));
  const testPage = cached(() => readFile(`${WEB_DIR}dev/button.html`, 'utf8'));

  const router = Router();
  router.get('/widget.js', async (_req, res) => {
    // Any site may load the script (it is the embed); short caching lets a fix reach pages soon.
    send(res, 'text/javascript; charset=utf-8', await widget(), { 'Cache-Control': 'public, max-age=300', 'Cross-Origin-Resource-Policy': 'cross-origin' });
  });
  router.get(['/dashboard', '/dashboard/'], async (_req, res) => {
    send(res, 'text/html; charset=utf-8', await dashboardHtml(), { 'Cache-Control': 'no-store', 'Content-Security-Policy': DASHBOARD_CSP, 'Referrer-Policy': 'no-referrer' });
  });
  router.get('/dashboard/dashboard.js', async (_req, res) => {
    send(res, 'text/javascript; charset=utf-8', await dashboardScript(), { 'Cache-Control': 'no-cache' });
  });
  router.get('/dashboard/dashboard.css', async (_req, res) => {
    send(res, 'text/css; charset=utf-8', await dashboardCss(), { 'Cache-Control': 'no-cache' });
  });
  if (options.testPage) {
    router.get('/dev/button', async (req, res) => {
      const id = typeof req.query.button === 'string' && /^btn_[A-Za-z0-9]{1,60}$/.test(req.query.button) ? req.query.button : '';
      // `?api=<origin>` loads the widget from another origin, as on a customer's site (cross-origin CORS).
      let src = '/widget.js';
      if (typeof req.query.api === 'string') {
        try {
          const api = new URL(req.query.api);
          if (api.protocol === 'http:' || api.protocol === 'https:') src = `${api.origin}/widget.js`;
        } catch {
          // not a URL: the page's own widget
        }
      }
      send(res, 'text/html; charset=utf-8', (await testPage()).replaceAll('{{BUTTON_ID}}', id).replaceAll('{{WIDGET_SRC}}', src.replace(/"/g, '%22')), { 'Cache-Control': 'no-store' });
    });
  }
  Object.defineProperty(router, FRAMEWORK_ROUTER, { value: true });
  return router;
}
