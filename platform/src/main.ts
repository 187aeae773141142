// Composition root: `npm start` runs every service in one process on one
// port; TRUEUP_SERVICES (or --service=) selects some for a multi-process deployment.
import { compose } from "./compose.ts";
import { ConfigError, loadConfig } from "./config.ts";
import type { Config } from "./config.ts";
import { openStorage } from "./storage.ts";

const SHUTDOWN_TIMEOUT_MS = 15_000;

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env, process.argv.slice(2));
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`trueup: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const log = (line: string): void => {
    process.stderr.write(`trueup: ${line}\n`);
  };

  const storage = await openStorage(config, log);
  log(`storage: ${storage.description}`);
  const composed = await compose({
    services: config.services,
    logLevel: config.logLevel,
    pool: storage.pool,
    relaxedPool: storage.relaxedPool,
    eventStore: storage.eventStore,
    ping: () => storage.ping(),
    imports: { limits: config.imports },
    mongoUrl: config.mongoUrl,
  }).catch(async (error: unknown) => {
    // Never leave the embedded server running behind a failed start.
    await storage.close();
    throw error;
  });
  const app = composed.app;

  let stopping = false;
  /** `exitCode` 1: stopped because something failed, so a supervisor restarts us. */
  const stop = (signal: string, exitCode = 0): void => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: shutting down`);
    const timer = setTimeout(() => {
      log(`shutdown took longer than ${SHUTDOWN_TIMEOUT_MS} ms; exiting`);
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    void composed
      .close()
      .then(() => storage.close())
      .then(() => process.exit(exitCode));
  };
  // A process that is not the projections service waited (bounded) for its read models and gave up: exit
  // non-zero so a supervisor restarts it or an operator looks.
  composed.readModelsReady.catch((error: unknown) => {
    log(error instanceof Error ? error.message : String(error));
    stop("read models not ready", 1);
  });
  // The embedded server died under us (kill -9, OOM). Restarting it here would hide a crash loop and race
  // the backends still exiting; exit non-zero instead, so the supervisor (systemd, compose, a shell loop)
  // restarts the whole platform, which recovers the cluster on start like any crash.
  storage.onFatal((reason) => {
    log(reason);
    stop("storage lost", 1);
  });
  process.on("SIGINT", () => {
    stop("SIGINT");
  });
  process.on("SIGTERM", () => {
    stop("SIGTERM");
  });
  process.on("SIGHUP", () => {
    stop("SIGHUP");
  });

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await composed.close().then(() => storage.close());
    throw error;
  }
  log(`services ${config.services.join(", ")} listening on http://${config.host}:${config.port}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`trueup: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
