/**
 * The API reference, from the same openapi.yaml the validators use: `GET /docs` (Swagger UI,
 * served from the swagger-ui-dist package, so it works offline: no CDN), `GET /docs/errors` (the
 * problem types, where every problem's `type` points), and the contract itself as
 * `GET /openapi.yaml` and `GET /openapi.json`. No authentication.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import express, { type Router } from 'express';
import type { ContractDocument } from './openapi-document.js';
import { PROBLEM_CATALOGUE } from './problem.js';

/** Marks routers that belong to the framework (docs), not to the contract; the coverage check skips them. */
export const FRAMEWORK_ROUTER: unique symbol = Symbol.for('click-to-dial.api.frameworkRouter');

const swaggerUiDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** The files of swagger-ui-dist the page uses, and their types. */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** Escaped, with `code` spans for the catalogue's backticks. */
function inlineMarkup(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

function referencePage(title: string): string {
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${escapeHtml(title)} reference</title>
    <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
    <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png" sizes="32x32">
    <link rel="icon" type="image/png" href="/docs/assets/favicon-16x16.png" sizes="16x16">
    <style>body { margin: 0; } .topbar { display: none; }</style>
  </head>
  <body>
    <div id="reference"></div>
    <script src="/docs/assets/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;
}

// validatorUrl: null keeps Swagger UI from asking an online validator about the document.
const INIT_SCRIPT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#reference',
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: true,
    displayRequestDuration: true,
    defaultModelsExpandDepth: 0,
    docExpansion: 'list',
  });
});
`;

function errorsPage(): string {
  const rows = Object.entries(PROBLEM_CATALOGUE)
    .map(
      ([code, { status, title, description }]) =>
        `      <tr id="${code}"><td>${status}</td><td><code>${code}</code></td><td>${escapeHtml(title)}</td><td>${inlineMarkup(description)}</td></tr>`,
    )
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Errors: click-to-dial API</title>
    <style>
      body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1f2328; }
      table { border-collapse: collapse; width: 100%; }
      th, td { text-align: left; vertical-align: top; padding: .5rem; border-bottom: 1px solid #d0d7de; }
      tr:target { background: #fff8c5; }
      code { font: 13px ui-monospace, monospace; background: #f6f8fa; padding: .1rem .3rem; border-radius: 4px; }
    </style>
  </head>
  <body>
    <h1>Errors</h1>
    <p>Every error is an RFC 9457 problem (<code>application/problem+json</code>): <code>type</code> links here,
    <code>code</code> is stable and meant for programs, <code>detail</code> is for people, and validation problems list
    every field at fault in <code>errors</code> (<code>field</code> is a JSON pointer such as <code>/a/uri</code>).
    The <a href="/docs">API reference</a> documents which operation answers which.</p>
    <table>
      <thead><tr><th>Status</th><th>Code</th><th>Title</th><th>Meaning</th></tr></thead>
      <tbody>
${rows}
      </tbody>
    </table>
  </body>
</html>
`;
}

export function docsRouter(contract: ContractDocument): Router {
  const router = express.Router();
  const info = (contract.document.info ?? {}) as { title?: string };
  const reference = referencePage(info.title ?? 'API');
  const errors = errorsPage();
  const json = JSON.stringify(contract.document);

  router.get('/openapi.yaml', (_req, res) => {
    res.type('application/yaml; charset=utf-8').send(contract.text);
  });
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json; charset=utf-8').send(json);
  });
  router.get('/docs', (_req, res) => {
    res.type('text/html; charset=utf-8').send(reference);
  });
  router.get('/docs/init.js', (_req, res) => {
    res.type('text/javascript; charset=utf-8').send(INIT_SCRIPT);
  });
  router.get('/docs/errors', (_req, res) => {
    res.type('text/html; charset=utf-8').send(errors);
  });
  router.get('/docs/assets/:file', (req, res, next) => {
    const file = req.params.file;
    const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (type === undefined) {
      next();
      return;
    }
    res.setHeader('Cache-Control', 'public, max-age=86400');
    res.type(type).sendFile(join(swaggerUiDir, file));
  });
  Object.defineProperty(router, FRAMEWORK_ROUTER, { value: true });
  return router;
}
