import { z } from 'zod';
import { checkSection, simulatorIssues, type ConfigIssue, type SectionCheck } from '../../src/eids/sdk.js';
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

/** The eID's own URLs and built-in CAs (PEM files), for mode production and test. */
type OfficialApis = Record<'production' | 'test', { url: string; ca: string }>;

/**
 * Checks the section of such an eID: against its `schema`, then the rest of those keys (checkRpApi)
 * and what else the section names that the eID reads (`more`, outside simulator mode). The
 * section's values, with `endpoint` outside simulator mode (the API, its TLS, and what `more`
 * read), or every problem.
 */
export function checkRpApiSection<S extends RpApiSettings, More extends object>(
  schema: z.ZodType<S>,
  section: unknown,
  official: OfficialApis,
  issuer: string,
  more: (settings: S, issues: ConfigIssue[]) => More | undefined,
): SectionCheck<S & { endpoint?: RpApi & More }> {
  const checked = checkSection(schema, section ?? {});
  if ('issues' in checked) return checked;
  const issues: ConfigIssue[] = [];
  const api = checkRpApi(checked.data, official, issuer, issues);
  const extra = checked.data.mode === 'simulator' ? undefined : more(checked.data, issues);
  return issues.length ? { issues } : { data: { ...checked.data, ...(api && extra ? { endpoint: { ...api, ...extra } } : {}) } };
}

/**
 * The rest of the check of those keys, adding to `issues`: a simulator only outside production,
 * and the files the RP certificate and CA name, read and tried. Where the API is and the TLS to
 * reach it (the eID's own URL and built-in CA, a PEM file, in production and test mode, the
 * configured ones in custom mode); undefined in simulator mode, or with a problem.
 */
function checkRpApi(
  settings: RpApiSettings,
  official: OfficialApis,
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
