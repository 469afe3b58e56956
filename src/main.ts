/**
 * The process entry: reads the configuration, starts the roles this process runs, and stops them
 * cleanly on SIGINT/SIGTERM. The only module that wires layers together (CONVENTIONS §1).
 * Today it runs the SIP stack: UDP and TCP on SIP_PORT, answering OPTIONS (a health probe for
 * proxies and SBCs), refusing incoming calls, ready for the engine to place calls.
 */
import { pino } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';
import {
  CachingDnsResolver,
  createSystemDnsResolver,
  DEFAULT_DNS_CACHE_OPTIONS,
  ServerLocator,
  TransportLayer,
  systemClock,
  UserAgent,
} from './sip/index.js';

const PRODUCT = 'click-to-dial/0.1';

export interface RunningService {
  sip: { transport: TransportLayer; userAgent: UserAgent; address: string; port: number };
  stop(): Promise<void>;
}

export async function startService(config: Config, logger = pino({ level: config.logLevel })): Promise<RunningService> {
  const transport = new TransportLayer({
    host: config.sip.host,
    port: config.sip.port,
    ...(config.sip.publicHost !== undefined ? { publicHost: config.sip.publicHost } : {}),
  });
  const sipLog = logger.child({ component: 'sip' });
  transport.on('malformed', (event) =>
    sipLog.warn({ source: event.source, code: event.error.code, answeredWith: event.answeredWith }, `malformed SIP message: ${event.error.message}`),
  );
  transport.on('transportError', (event) => sipLog.warn({ code: event.error.code, destination: event.destination }, event.error.message));
  transport.on('internalError', (event) => sipLog.error({ err: event.error, source: event.source }, 'error while handling a SIP message'));
  if (sipLog.isLevelEnabled('debug')) {
    transport.on('message', (event) => sipLog.debug({ source: event.source, startLine: event.message.startLine(), callId: event.message.header('call-id') }, 'SIP in'));
  }
  const { address, port } = await transport.listen();
  const locator = new ServerLocator({ resolver: new CachingDnsResolver(createSystemDnsResolver(), { ...DEFAULT_DNS_CACHE_OPTIONS, clock: systemClock }) });
  const userAgent = new UserAgent({ transport, locator, product: PRODUCT, contactUser: config.sip.contactUser });
  userAgent.on('internalError', (error) => sipLog.error({ err: error }, 'error in the SIP user agent'));
  sipLog.info({ address, port, transports: ['udp', 'tcp'] }, `SIP stack listening on ${address}:${port} (UDP and TCP)`);
  return {
    sip: { transport, userAgent, address, port },
    async stop() {
      userAgent.close();
      await transport.close();
      sipLog.info('SIP stack stopped');
    },
  };
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`configuration error: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  const logger = pino({ level: config.logLevel });
  let service: RunningService;
  try {
    service = await startService(config, logger);
  } catch (error) {
    logger.fatal({ err: error }, `cannot start: ${(error as Error).message}`);
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

const isEntry = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) void main();
