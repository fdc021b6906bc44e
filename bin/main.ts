#!/usr/bin/env node
/**
 * The composition root: the process entry, and the one module that names both the core (src/)
 * and the eIDs (providers/). It hands the core the built-in eIDs, so that nothing under src/
 * imports from providers/ (an ESLint rule and test/unit/plugin-boundary.test.ts say so).
 */
import module from 'node:module';
// Static, and so first: the heap's growth is set before the broker's modules fill the heap.
import { limitHeapGrowth } from '../src/heap.js';

/** Exit code for a configuration that cannot be used, or an argument the broker does not take: nothing was started. */
const EXIT_CONFIG = 2;

/** The broker takes its configuration from the environment; its only arguments are these. */
const USAGE = `Usage: nordic-eid-broker              start the broker: its configuration file is BROKER_CONFIG
                                      (without it, the embedded default for trying it out)
       nordic-eid-broker clients …    manage the clients of a running broker through its admin API
                                      ("nordic-eid-broker clients --help" for the commands)
`;
const HELP = new Set(['--help', '-h', 'help']);

/**
 * The broker runs as one bundle (scripts/bundle.js). Node maps a stack trace's frames back to
 * the TypeScript sources only in modules loaded after this call, so everything below is
 * imported dynamically, after it.
 */
process.setSourceMapsEnabled(true);

/**
 * Node 22.1 and later keep the code they compile in a cache on disk (the system's temporary
 * folder, or NODE_COMPILE_CACHE), so later starts skip compiling the broker: about a third of
 * its start-up on Node 24. Node 20 has no such cache; a cache that cannot be written is skipped.
 */
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

async function main() {
  limitHeapGrowth();
  // Imported here, after source maps are on, and so that the CLI (below) starts without loading the broker.
  const [{ builtInEids, simulatedEids, movedKeys, eidSecretFields }, { createBroker }, { checkConfig }, { developmentAdminToken, embeddedConfig }, { readConfigFile }, { Welcome }, { createLogger }] =
    await Promise.all([
      import('../providers/index.js'),
      import('../src/broker.js'),
      import('../src/config/check.js'),
      import('../src/config/embedded.js'),
      import('../src/config/load.js'),
      import('../src/config/welcome.js'),
      import('../src/log.js'),
    ]);
  const path = process.env.BROKER_CONFIG;
  // The embedded default first says in plain words where things are, with its admin token; its log follows.
  const welcome = path ? undefined : new Welcome(developmentAdminToken());
  // Every problem of the configuration, the eIDs' sections and the clients, before anything starts.
  const raw = path ? readConfigFile(path) : embeddedConfig(simulatedEids, welcome!.adminToken);
  const checked = await checkConfig(raw, builtInEids, { moved: movedKeys });
  const log = createLogger(checked.config.log.level, welcome?.logs, eidSecretFields);
  logUnhandledRejections(log);
  const broker = await createBroker(checked, { log });
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

/**
 * A promise that failed with nobody waiting for it (a plugin's timer, a write left to finish
 * on its own while Redis is away) is one piece of background work that failed, not a broken
 * process: it is logged, and the instance serves on. Node's default would end the process and
 * every login it holds — on every instance at once when the cause is shared, such as Redis.
 */
function logUnhandledRejections(log: { error(fields: object, msg: string): void }): void {
  process.on('unhandledRejection', (reason: unknown) => {
    log.error({ err: reason instanceof Error ? reason : new Error(String(reason)) }, 'background work failed (a rejection nobody handled)');
  });
}

const command = process.argv[2];
if (command === 'clients') {
  // `nordic-eid-broker clients …`: the client administration CLI, talking to a running broker.
  const { runCli } = await import('../src/cli/index.js');
  process.exitCode = await runCli(process.argv.slice(3));
} else if (command !== undefined) {
  // An argument the broker does not take (`--config broker.yaml`, `--port 8080`) must not start
  // the embedded default instead, with a development admin token, on a port the operator did not choose.
  if (HELP.has(command)) process.stdout.write(USAGE);
  else process.stderr.write(`error: the broker takes no argument "${command}": set BROKER_CONFIG to the configuration file.\n${USAGE}`);
  process.exitCode = HELP.has(command) ? 0 : EXIT_CONFIG;
} else {
  main().catch(async (err: unknown) => {
    const { ConfigError } = await import('../src/config/load.js');
    if (err instanceof ConfigError) {
      process.stderr.write(err.problems.map((problem) => `configuration error: ${problem}\n`).join(''));
      process.exit(EXIT_CONFIG);
    }
    // The port taken or not ours to take: the message says it all, a stack would only hide it.
    if ((err as NodeJS.ErrnoException).syscall === 'listen') {
      process.stderr.write(`the broker could not start: ${(err as Error).message} (the port or host in the configuration, or PORT)\n`);
      process.exit(1);
    }
    process.stderr.write(`the broker could not start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
