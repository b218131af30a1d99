/**
 * Entry point: `npm start`. Reads the environment, starts the server, and shuts down cleanly
 * on SIGINT/SIGTERM (stop accepting, close rooms and workers, exit 0).
 */
import { startServer } from './app';
import { ConfigError, loadConfig, type Config } from './config';
import { createLogger } from './logger';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\nSee README.md "Configuration" and .env.example.\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.log);
  const server = await startServer(config, logger);

  const shutdown = (signal: NodeJS.Signals): void => {
    logger.info('shutting down', { component: 'main', signal });
    const forced = setTimeout(() => {
      logger.error('shutdown took over 10 s: exiting anyway', { component: 'main' });
      process.exit(1);
    }, 10_000);
    forced.unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('shutdown failed', { component: 'main', error });
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
