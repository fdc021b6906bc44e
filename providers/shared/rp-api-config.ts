import { z } from 'zod';
import { simulatorIssues, type ConfigIssue } from '../../src/eids/sdk.js';
import { clientCertificate, readMutualTls, type MutualTls } from './mutual-tls.js';

/**
 * The configuration keys of an eID whose relying-party API is reached over mutual TLS (Swedish
 * BankID, Freja eID): production and test select the eID's own URLs and server CAs; custom
 * takes `custom_url` and `ca`; simulator starts the built-in simulator (refused in a
 * production configuration unless `allow_simulator_in_production`).
 */
export const rpApiKeys = {
  mode: z.enum(['production', 'test', 'custom', 'simulator']).default('production'),
  custom_url: z.url().optional(),
  client_certificate: clientCertificate.optional(),
  ca: z.string().min(1).optional(),
  allow_simulator_in_production: z.boolean().default(false),
};

interface RpApiSettings {
  mode: 'production' | 'test' | 'custom' | 'simulator';
  allow_simulator_in_production: boolean;
  custom_url?: string | undefined;
  client_certificate?: z.output<typeof clientCertificate> | undefined;
  ca?: string | undefined;
}

/** The rules between those keys: custom mode names its URL and CA, and only a simulator needs no RP certificate. */
export function withRpApiRules<T extends z.ZodType<RpApiSettings>>(schema: T): T {
  return schema
    .refine((c) => c.mode !== 'custom' || c.custom_url, { message: 'is required with mode custom', path: ['custom_url'] })
    .refine((c) => c.mode !== 'custom' || c.ca, { message: 'is required with mode custom', path: ['ca'] })
    .refine((c) => c.mode === 'simulator' || c.client_certificate, { message: 'is required unless mode is simulator', path: ['client_certificate'] });
}

/** Where the API is, and the TLS to reach it. */
export interface RpApi {
  url: string;
  tls: MutualTls;
}

/**
 * The rest of the check of those keys, adding to `issues`: a simulator only outside production,
 * and the files the RP certificate and CA name, read and tried. Where the API is and the TLS to
 * reach it (the eID's own URL and built-in CA, a PEM file, in production and test mode, the
 * configured ones in custom mode); undefined in simulator mode, or with a problem.
 */
export function checkRpApi(
  settings: RpApiSettings,
  official: Record<'production' | 'test', { url: string; ca: string }>,
  issuer: string,
  issues: ConfigIssue[],
): RpApi | undefined {
  if (settings.mode === 'simulator') {
    issues.push(...simulatorIssues(settings, issuer));
    return undefined;
  }
  const own = settings.mode === 'production' || settings.mode === 'test' ? official[settings.mode] : undefined;
  const url = own ? own.url : settings.custom_url!;
  const tls = readMutualTls({ client_certificate: settings.client_certificate!, ca: settings.ca }, own?.ca ?? '', issues);
  return tls && { url: url.replace(/\/$/, ''), tls };
}
