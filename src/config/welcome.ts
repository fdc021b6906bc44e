import type { DestinationStream } from 'pino';
import type { EidPlugin } from '../eids/plugin.js';

/** What the welcome needs to know of the broker that started. */
interface Started {
  issuer: string;
  registry: { all: readonly EidPlugin[] };
}

/**
 * What `npm start` without a configuration says first, in plain text for a newcomer: where the
 * demo is, where to play the person at a simulated eID, and how to manage clients through the
 * admin API. The broker's JSON log lines are held back until it has been said, then follow.
 * Only the embedded default has it; a broker run from a configuration file logs JSON alone.
 */
export class Welcome {
  #held: string[] | undefined = [];

  /** The logger's destination: held until the welcome is printed (or the process exits), then stdout. */
  readonly logs: DestinationStream = {
    write: (line: string) => {
      if (this.#held) this.#held.push(line);
      else process.stdout.write(line);
    },
  };

  constructor(
    /** The admin API's token of this run: shown here, once. */
    readonly adminToken: string,
  ) {
    process.stdout.write('Nordic eID Broker: starting the embedded default, for trying it out (everything in memory, every eID simulated)…\n');
    // A start that fails still shows what it logged.
    process.once('exit', () => this.#release());
  }

  /** Prints the welcome, then the log lines held so far. */
  print(broker: Started): void {
    process.stdout.write(welcomeText(broker, this.adminToken));
    this.#release();
  }

  #release(): void {
    const held = this.#held;
    this.#held = undefined;
    if (held?.length) process.stdout.write(held.join(''));
  }
}

/** The welcome's lines: one thing each, with the command to copy where there is one. */
export function welcomeText({ issuer, registry }: Started, adminToken: string): string {
  const simulators = registry.all.flatMap((plugin) => (plugin.simulatorPage ? [{ id: plugin.id, ...plugin.simulatorPage }] : []));
  return [
    '',
    `  Demo service      ${issuer}/demo`,
    '                    log in there with any eID, as a simulated person',
    ...simulators.flatMap(({ id, url, description }) => [`  ${id.padEnd(18)}${url}`, `                    ${description}`]),
    `  Admin API         on, with a development token made for this run. To add a client:`,
    `                    export BROKER_ADMIN_URL=${issuer} BROKER_ADMIN_TOKEN=${adminToken}`,
    '                    npx nordic-eid-broker clients add --id my-app --redirect-uri http://127.0.0.1:8080/callback',
    '                    With a configuration file (BROKER_CONFIG), admin.token turns it on.',
    '',
    'The log follows, one JSON object per line.',
    '',
  ].join('\n');
}
