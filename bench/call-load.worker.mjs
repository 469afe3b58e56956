/**
 * The load generator (plain JavaScript: a worker thread does not inherit tsx's loader) of bench:api and soak, on a thread of its own: it places calls with POST
 * /v1/calls at a steady rate and reports each answer. A client in the service's own event loop
 * would be measured as the service's work and would delay its requests by the service's own.
 *
 * workerData: { port, key, body, rate, total }. Posts back `{ kind: 'call', id, status, sentAt }`
 * per answer (sentAt on the shared clock: performance.timeOrigin + performance.now()) and
 * `{ kind: 'done', failed }` at the end.
 */
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

/** @type {{ port: number, key: string, body: string, rate: number, total: number }} */
const options = workerData;
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const now = () => performance.timeOrigin + performance.now();

/** @returns {Promise<{ status: number, text: string }>} */
function post() {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: options.port,
        path: '/v1/calls',
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${options.key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(options.body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const begin = performance.now();
let sent = 0;
let failed = 0;
const pending = [];
while (sent < options.total) {
  const due = Math.min(options.total, Math.floor(((performance.now() - begin) / 1000) * options.rate));
  for (; sent < due; sent++) {
    const sentAt = now();
    pending.push(
      post().then(
        (answer) => {
          const id = answer.status === 202 ? JSON.parse(answer.text).id : undefined;
          if (!id) failed++;
          parentPort.postMessage({ kind: 'call', id, status: answer.status, sentAt });
        },
        () => {
          failed++;
          parentPort.postMessage({ kind: 'call', id: undefined, status: 0, sentAt });
        },
      ),
    );
  }
  await new Promise((resolve) => setTimeout(resolve, 2));
}
await Promise.all(pending);
agent.destroy();
parentPort.postMessage({ kind: 'done', failed, windowMs: performance.now() - begin });
