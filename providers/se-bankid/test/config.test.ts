import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isProductionConfiguration } from '../../../src/eids/sdk.js';
import { checkedSettings, settingsProblems } from '../../../test/support/eid-settings.js';
import { capturingLog } from '../../../test/support/ops.js';
import { BankIdClient } from '../api/client.js';
import { X509Certificate } from 'node:crypto';
import { certificateNotAfter, checkBankIdSection } from '../config.js';
import { seBankId } from '../index.js';
import { createTestPki, type TestPki } from '../simulator/certificates.js';
import { startBankIdSimulator, type BankIdSimulator } from '../simulator/server.js';
import { writePki } from './support.js';

let pki: TestPki;
let files: ReturnType<typeof writePki>;
let simulator: BankIdSimulator;

beforeAll(async () => {
  pki = await createTestPki();
  files = writePki(pki);
  simulator = await startBankIdSimulator({ pki });
});
afterAll(() => simulator.close());

const custom = () => ({ mode: 'custom', custom_url: simulator.apiUrl, ca: files.ca, client_certificate: { cert: files.cert, key: files.key } });

/** The problems of the section `raw`, as the broker names them before any eID starts. */
async function refusal(raw: unknown): Promise<string> {
  const problems = await settingsProblems(seBankId, 'se-bankid', raw);
  expect(problems).not.toEqual([]);
  return problems.join('\n');
}

/** The RP API and its TLS material, as the check of the section `raw` read them. */
async function resolveEndpoint(raw: unknown) {
  return (await checkedSettings(seBankId, 'se-bankid', raw)).endpoint!;
}

async function authWorks(raw: unknown) {
  const endpoint = await resolveEndpoint(raw);
  const client = new BankIdClient({ ...endpoint, timeoutMs: 2_000, log: capturingLog().log });
  try {
    return await client.auth({ endUserIp: '127.0.0.1' });
  } finally {
    await client.close();
  }
}

describe('eids.se-bankid', () => {
  it('has the documented defaults', () => {
    expect(checkBankIdSection({ client_certificate: { pfx: 'x.p12' } })).toMatchObject({ data: {
      mode: 'production',
      poll_frequency: 2,
      allowed_polling_for_minutes: 2,
      return_risk: true,
      requirement: {},
      qr_size: 240,
      show_qr_help: true,
    } });
  });

  it('selects BankID\'s official URLs in production and test mode, with the built-in CAs', async () => {
    for (const [mode, url] of [
      ['production', 'https://appapi2.bankid.com/rp/v6.0'],
      ['test', 'https://appapi2.test.bankid.com/rp/v6.0'],
    ] as const) {
      const endpoint = await resolveEndpoint({ mode, client_certificate: { cert: files.cert, key: files.key } });
      expect(endpoint.url).toBe(url);
      expect(endpoint.tls.ca).toContain('BEGIN CERTIFICATE');
    }
  });

  it('talks to BankID over mutual TLS with PEM files', async () => {
    expect(await authWorks(custom())).toMatchObject({ orderRef: expect.any(String) });
  });

  it('talks to BankID over mutual TLS with a PKCS#12 file and its passphrase', async () => {
    const pfx = join(files.dir, 'rp.p12');
    execFileSync('openssl', ['pkcs12', '-export', '-in', files.cert, '-inkey', files.key, '-out', pfx, '-passout', 'pass:qwerty123', '-keypbe', 'AES-256-CBC', '-certpbe', 'AES-256-CBC']);
    expect(await authWorks({ ...custom(), client_certificate: { pfx, passphrase: 'qwerty123' } })).toMatchObject({ orderRef: expect.any(String) });
    expect(await refusal({ ...custom(), client_certificate: { pfx, passphrase: 'wrong' } })).toMatch(/^eids\.se-bankid\.client_certificate: cannot be used/);
  });

  it('reads when the RP certificate expires, from PEM files and from PKCS#12 alike', async () => {
    const notAfter = new Date(new X509Certificate(pki.client.cert).validTo);
    expect(certificateNotAfter((await resolveEndpoint(custom())).tls)).toEqual(notAfter);
    const pfx = join(files.dir, 'expiry.p12');
    execFileSync('openssl', ['pkcs12', '-export', '-in', files.cert, '-inkey', files.key, '-out', pfx, '-passout', 'pass:qwerty123', '-keypbe', 'AES-256-CBC', '-certpbe', 'AES-256-CBC']);
    const fromPfx = await resolveEndpoint({ ...custom(), client_certificate: { pfx, passphrase: 'qwerty123' } });
    expect(certificateNotAfter(fromPfx.tls)).toEqual(notAfter);
  });

  it('signs as well as authenticates, and collects and cancels what it started', async () => {
    const endpoint = await resolveEndpoint(custom());
    const client = new BankIdClient({ ...endpoint, timeoutMs: 2_000, log: capturingLog().log });
    try {
      const order = await client.sign({ endUserIp: '::1', userVisibleData: Buffer.from('Sign the agreement').toString('base64') });
      expect(await client.collect(order.orderRef)).toMatchObject({ status: 'pending', hintCode: 'outstandingTransaction' });
      await client.cancel(order.orderRef);
      await expect(client.collect(order.orderRef)).rejects.toMatchObject({ status: 400, errorCode: 'invalidParameters' });
    } finally {
      await client.close();
    }
  });

  it('trusts only the pinned CA: another CA makes every call fail as unreachable', async () => {
    const other = writePki(await createTestPki());
    await expect(authWorks({ ...custom(), ca: other.ca })).rejects.toMatchObject({ errorCode: 'unreachable' });
  });

  it.each([
    [{ mode: 'custom', ca: 'x', client_certificate: { pfx: 'x' } }, 'eids.se-bankid.custom_url: is required with mode custom'],
    [{ mode: 'test' }, 'eids.se-bankid.client_certificate: is required unless mode is simulator'],
    [{ mode: 'staging', client_certificate: { pfx: 'x' } }, 'eids.se-bankid.mode: '],
    [{ poll_frequency: 0, client_certificate: { pfx: 'x' } }, 'eids.se-bankid.poll_frequency: '],
    [{ qr_size: 1000, client_certificate: { pfx: 'x' } }, 'eids.se-bankid.qr_size: must be at most 480'],
    [{ show_qr_help: 'yes', client_certificate: { pfx: 'x' } }, 'eids.se-bankid.show_qr_help: must be true or false'],
    [{ requirement: { cardReader: 'class3' }, client_certificate: { pfx: 'x' } }, 'eids.se-bankid.requirement.cardReader: '],
    [{ requirement: { personalNumber: '198112189876' }, client_certificate: { pfx: 'x' } }, 'eids.se-bankid.requirement.personalNumber: unknown key'],
    [{ mode: 'test', client_certificate: { pfx: '/nonexistent.p12' } }, 'eids.se-bankid.client_certificate.pfx: cannot read /nonexistent.p12'],
    [{ mode: 'test', ca: '/nonexistent.pem', client_certificate: { pfx: '/nonexistent.p12' } }, 'eids.se-bankid.ca: cannot read /nonexistent.pem'],
    [{ mode: 'simulator' }, 'eids.se-bankid.mode: simulator is refused in a production configuration', 'https://id.example.com'],
  ])('%j is refused with "%s"', async (raw, message, issuer?: string) => {
    expect((await settingsProblems(seBankId, 'se-bankid', raw, issuer)).join('\n')).toContain(message);
  });

  it('names every problem at once: of the section, then of each file it names', async () => {
    expect(await settingsProblems(seBankId, 'se-bankid', { qr_size: 1000, poll_frequency: 0, client_certificate: { pfx: 'x' } })).toEqual([
      'eids.se-bankid.poll_frequency: must be at least 1',
      'eids.se-bankid.qr_size: must be at most 480',
    ]);
    expect(await settingsProblems(seBankId, 'se-bankid', { mode: 'custom', custom_url: 'https://x.example', ca: '/nonexistent.pem', client_certificate: { cert: '/nonexistent/c.pem', key: '/nonexistent/k.pem' } })).toEqual([
      'eids.se-bankid.ca: cannot read /nonexistent.pem (ENOENT)',
      'eids.se-bankid.client_certificate.cert: cannot read /nonexistent/c.pem (ENOENT)',
      'eids.se-bankid.client_certificate.key: cannot read /nonexistent/k.pem (ENOENT)',
    ]);
  });
});

describe('a production configuration', () => {
  it('is one on an https issuer that is not this machine, or with NODE_ENV=production', () => {
    expect(isProductionConfiguration('https://id.example.com')).toBe(true);
    expect(isProductionConfiguration('https://localhost:3000')).toBe(false);
    expect(isProductionConfiguration('http://127.0.0.1:3000')).toBe(false);
  });
});
