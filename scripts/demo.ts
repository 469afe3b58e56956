/**
 * `npm run demo [-- --flow 3|1|4] [--hold SECONDS]`: one click-to-dial call from the public HTTP
 * API to two built-in demo phones and back (src/demo/run-demo.ts). Exits 0 when the call
 * connected and completed, 1 with the reason otherwise, 2 for bad arguments. `npm run demo`
 * first makes sure PostgreSQL and Redis run (scripts/ensure-services.sh).
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../src/config.js';
import { DemoFailed, runDemo, type DemoOptions } from '../src/demo/index.js';

const USAGE = 'usage: npm run demo [-- --flow 3|1|4] [--hold SECONDS] [--database NAME] [--queue-prefix PREFIX]';

function options(): DemoOptions {
  const { values } = parseArgs({
    options: {
      flow: { type: 'string', default: '3' },
      hold: { type: 'string', default: '3' },
      database: { type: 'string' },
      'queue-prefix': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const flow = Number(values.flow);
  if (flow !== 1 && flow !== 3 && flow !== 4) throw new RangeError(`--flow must be 1, 3 or 4, not ${values.flow}`);
  const hold = Number(values.hold);
  if (!Number.isFinite(hold) || hold < 0 || hold > 600) throw new RangeError(`--hold must be a number of seconds from 0 to 600, not ${values.hold}`);
  const result: DemoOptions = { flow, holdMs: Math.round(hold * 1000) };
  if (values.database !== undefined) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(values.database)) throw new RangeError(`--database must be a PostgreSQL name (a-z, 0-9, _), not ${values.database}`);
    result.databaseName = values.database;
  }
  if (values['queue-prefix'] !== undefined) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(values['queue-prefix'])) throw new RangeError(`--queue-prefix must be 1 to 64 letters, digits, - or _, not ${values['queue-prefix']}`);
    result.queuePrefix = values['queue-prefix'];
  }
  return result;
}

let parsed: DemoOptions;
try {
  parsed = options();
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}

process.once('SIGINT', () => {
  console.error('demo interrupted');
  process.exit(130);
});

try {
  await runDemo(parsed);
  process.exit(0);
} catch (error) {
  if (error instanceof DemoFailed || error instanceof ConfigError) {
    console.error(`demo failed: ${error.message}`);
  } else {
    console.error('demo failed:', error);
  }
  process.exit(1);
}
