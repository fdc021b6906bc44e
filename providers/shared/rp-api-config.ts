import { z } from 'zod';
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

/**
 * Where the API is and the TLS to reach it, read and checked at start-up: the eID's own URL and
 * built-in CA (a PEM file) in production and test mode, the configured ones in custom mode.
 */
export function resolveRpApi(
  id: string,
  settings: RpApiSettings,
  official: Record<'production' | 'test', { url: string; ca: string }>,
): { url: string; tls: MutualTls } {
  const own = settings.mode === 'production' || settings.mode === 'test' ? official[settings.mode] : undefined;
  const url = own ? own.url : settings.custom_url!;
  const tls = readMutualTls(id, { client_certificate: settings.client_certificate!, ca: settings.ca }, own?.ca ?? '');
  return { url: url.replace(/\/$/, ''), tls };
}
