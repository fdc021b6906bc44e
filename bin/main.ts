#!/usr/bin/env node
/**
 * The composition root: the process entry, and the one module that names both the core (src/)
 * and the eIDs (providers/). It hands the core the built-in eIDs, so that nothing under src/
 * imports from providers/ (an ESLint rule and test/unit/plugin-boundary.test.ts say so).
 */
import module from 'node:module';
import { developmentAdminToken, embeddedConfig } from '../src/config/embedded.js';
import { ConfigError, loadConfigFile, parseConfig } from '../src/config/load.js';
import { Welcome } from '../src/config/welcome.js';
import { createLogger } from '../src/log.js';

/** Exit code for a configuration that cannot be used: nothing was started. */
const EXIT_CONFIG = 2;

/**
 * Node 22.1 and later keep the code they compile in a cache on disk (the system's temporary
 * folder, or NODE_COMPILE_CACHE), so later starts skip compiling the broker's modules and
 * dependencies: most of its start-up time. Node 20 has no such cache; a cache that cannot be
 * written is skipped.
 */
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

async function main() {
  // Imported here so that the CLI (below) starts without loading the broker.
  const [{ builtInEids, simulatedEids, movedKeys, eidSecretFields }, { createBroker }] = await Promise.all([import('../providers/index.js'), import('../src/broker.js')]);
  const path = process.env.BROKER_CONFIG;
  // The embedded default first says in plain words where things are, with its admin token; its log follows.
  const welcome = path ? undefined : new Welcome(developmentAdminToken());
  const config = path ? loadConfigFile(path, process.env, movedKeys) : parseConfig(embeddedConfig(simulatedEids, welcome!.adminToken));
  const log = createLogger(config.log.level, welcome?.logs, eidSecretFields);
  const broker = await createBroker(config, { eids: builtInEids, log });
  await broker.listen();
  welcome?.print(broker);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'signal received');
    await broker.shutdown();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[2] === 'clients') {
  // `nordic-eid-broker clients …`: the client administration CLI, talking to a running broker.
  const { runCli } = await import('../src/cli/index.js');
  process.exitCode = await runCli(process.argv.slice(3));
} else {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`configuration error: ${err.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    process.stderr.write(`the broker could not start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
