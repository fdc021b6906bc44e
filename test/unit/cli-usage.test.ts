import { describe, expect, it } from 'vitest';
import { EXIT, runCli } from '../../src/cli/index.js';

/** Runs the CLI in this process with its output captured; nothing here reaches a broker. */
async function run(args: string[], env: NodeJS.ProcessEnv = { BROKER_ADMIN_URL: 'http://127.0.0.1:1', BROKER_ADMIN_TOKEN: 't' }) {
  let out = '';
  let err = '';
  const code = await runCli(args, { env, out: (text) => (out += text), err: (text) => (err += text) });
  return { code, out, err };
}

describe('the clients CLI refuses what it cannot run, with exit code 2', () => {
  it.each([
    [['frobnicate'], 'unknown command frobnicate'],
    [['list', '--colour'], "Unknown option '--colour'"],
    [['list', 'extra'], 'list takes no arguments'],
    [['list', '--limit', '0'], '--limit: must be at least 1'],
    [['list', '--limit', 'many'], '--limit: must be a whole number, in digits'],
    [['list', '--limit', 'Infinity'], '--limit: must be a whole number, in digits'],
    [['list', '--limit', '1e1'], '--limit: must be a whole number, in digits'],
    [['list', '--limit', '0x10'], '--limit: must be a whole number, in digits'],
    [['show'], 'show takes one client_id'],
    [['show', 'a', 'b'], 'show takes one client_id'],
    [['remove'], 'remove takes one client_id'],
    [['rotate-secret'], 'rotate-secret takes one client_id'],
    [['add', '--name', 'x'], 'add needs at least one --redirect-uri'],
    [['add', 'my-client', '--redirect-uri', 'https://a.example/cb'], 'add takes options only (did you mean --id my-client?)'],
    [['add', '--redirect-uri', 'https://a.example/cb', '--public', '--auth-method', 'client_secret_post'], '--public and --auth-method contradict'],
    [['add', '--redirect-uri', 'https://a.example/cb', '--refresh-tokens', '--no-refresh-tokens'], '--refresh-tokens and --no-refresh-tokens contradict each other'],
    [
      ['add', '--redirect-uri', 'https://a.example/cb', '--refresh-tokens-without-consent', '--no-refresh-tokens-without-consent'],
      '--refresh-tokens-without-consent and --no-refresh-tokens-without-consent contradict each other',
    ],
    [['add', '--redirect-uri', 'https://a.example/cb', '--return-to-picker', '--no-return-to-picker'], '--return-to-picker and --no-return-to-picker contradict each other'],
    [['add', '--redirect-uri', 'https://a.example/cb', '--metadata', '{not json'], '--metadata: not valid JSON'],
    [['add', '--redirect-uri', 'https://a.example/cb', '--metadata', '[1]'], '--metadata: must be a JSON object'],
    [['add', '--redirect-uri', 'https://a.example/cb', '--metadata', '@/nonexistent/file.json'], '--metadata: cannot read /nonexistent/file.json (ENOENT)'],
    [['update', 'some-id'], 'update needs at least one option'],
    [['update', '--name', 'x'], 'update takes one client_id'],
    [['show', 'x', '--url', 'ftp://broker.example'], '--url: must be an http or https URL'],
    [['show', 'x', '--url', 'not a url'], '--url: not a url is not a URL'],
  ])('%j: "%s"', async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(EXIT.usage);
    expect(result.err).toContain(`error: ${message}`);
    expect(result.err).toContain('nordic-eid-broker clients --help');
    expect(result.out).toBe('');
  });

  it('needs the URL and the token', async () => {
    expect((await run(['list'], { BROKER_ADMIN_TOKEN: 't' })).err).toContain('--url or BROKER_ADMIN_URL');
    expect((await run(['list'], { BROKER_ADMIN_URL: 'http://127.0.0.1:1' })).err).toContain('--token or BROKER_ADMIN_TOKEN');
  });

  it('prints the usage: to stdout with 0 when asked, with 2 when no command is given', async () => {
    for (const args of [['--help'], ['-h'], ['help'], ['list', '--help']]) {
      const result = await run(args);
      expect(result.code).toBe(EXIT.ok);
      expect(result.out).toContain('Usage: nordic-eid-broker clients <command>');
    }
    const bare = await run([]);
    expect(bare.code).toBe(EXIT.usage);
    expect(bare.out).toContain('Commands:');
  });
});
