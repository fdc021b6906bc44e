import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { eidSecretFields } from '../../providers/index.js';
import { createLogger } from '../../src/log.js';

/** A logger writing into an array of parsed lines, censoring the eIDs' secrets too, as the broker's entry point has it. */
function capture(secretFields: readonly string[] = eidSecretFields) {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger('info', destination, secretFields), lines };
}

describe('log lines', () => {
  it('censor secrets inside any object they carry, and the authorization and cookie headers of req', () => {
    const { log, lines } = capture();
    const config = { client_secret: 's3cret', password: 'pw', passphrase: 'pp', qrStartSecret: 'qr', subject_secret: 'sub', cookie_keys: ['k'], client_id: 'rp' };
    const req = { method: 'POST', headers: { authorization: 'Basic abc', cookie: 'a=b', accept: 'text/html' } };
    log.info({ config, req }, 'line');
    expect(lines[0]).toMatchObject({
      config: { client_secret: '[redacted]', password: '[redacted]', passphrase: '[redacted]', qrStartSecret: '[redacted]', subject_secret: '[redacted]', cookie_keys: '[redacted]', client_id: 'rp' },
      req: { method: 'POST', headers: { authorization: '[redacted]', cookie: '[redacted]', accept: 'text/html' } },
    });
    // The caller's objects are left as they were.
    expect(config.client_secret).toBe('s3cret');
    expect(req.headers.authorization).toBe('Basic abc');
  });

  it('censor a secret given as a field of the line itself', () => {
    const { log, lines } = capture();
    log.info({ client_secret: 's3cret', client_id: 'rp' }, 'line');
    expect(lines[0]).toMatchObject({ client_secret: '[redacted]', client_id: 'rp' });
  });

  it("censor an eID's secret only where the logger was told of it: the core does not know the eIDs' fields", () => {
    const told = capture(['orderSecret']);
    told.log.info({ order: { orderSecret: 's', orderRef: 'r' } }, 'line');
    expect(told.lines[0]).toMatchObject({ order: { orderSecret: '[redacted]', orderRef: 'r' } });
    const untold = capture([]);
    untold.log.info({ order: { orderSecret: 's', client_secret: 'c' } }, 'line');
    expect(untold.lines[0]).toMatchObject({ order: { orderSecret: 's', client_secret: '[redacted]' } });
  });

  it('keep an error an error while censoring a secret on it, and leave lines without secrets as they are', () => {
    const { log, lines } = capture();
    const err = Object.assign(new Error('it failed'), { password: 'pw' });
    log.warn({ err, eid: 'se-bankid', count: 2 }, 'failed');
    log.child({ audit: true }).info({ path: '/token', status: 200 }, 'request');
    expect(lines[0]).toMatchObject({ err: { type: 'Error', message: 'it failed', password: '[redacted]' }, eid: 'se-bankid', count: 2 });
    expect((lines[0]!.err as { stack: string }).stack).toContain('it failed');
    expect(lines[1]).toMatchObject({ audit: true, path: '/token', status: 200, msg: 'request' });
  });

  it("keep an error's stack when V8 gives it as an accessor that answers for that error alone (Node 22 and later), on any Node", () => {
    const { log, lines } = capture();
    const err = Object.assign(new Error('it failed'), { password: 'pw' });
    const stack = err.stack;
    Object.defineProperty(err, 'stack', { get: function (this: Error) { return this === err ? stack : undefined; }, configurable: true, enumerable: false });
    log.warn({ err }, 'failed');
    expect(lines[0]).toMatchObject({ err: { message: 'it failed', password: '[redacted]', stack } });
  });
});
