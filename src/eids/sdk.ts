/**
 * The plugin SDK: everything an eID plugin (providers/<id>/) and the kits beside it may take
 * from the broker's core, in one module. Files under providers/ import from src/ only through
 * here (an ESLint rule and a test enforce it), so the core can change behind this surface
 * without touching an eID, and a new eID needs nothing from src/ that is not listed here.
 */
// The contract: what a plugin implements and what the core hands it.
export type {
  AuthorizationDetail,
  BackchannelRequest,
  BackchannelRequestInput,
  CallbackResult,
  CheckedSettings,
  EidBackchannel,
  EidFailure,
  EidOutcome,
  EidPlugin,
  EidPluginFactory,
  EidTelemetry,
  LoginRequest,
  LoginState,
  LoginWatcher,
  PageRenderer,
  PluginContext,
  PollStatus,
  RunOptions,
  SettingsCheck,
  SettingsContext,
  StartedEid,
  StartOptions,
  StartResult,
} from './plugin.js';

// The identity model a plugin reports into.
export type { EidDetails, EidPerson, Identity, PostalAddress } from '../identity/identity.js';

// A plugin's country and its rules (providers/countries/ has those of the built-in eIDs).
export {
  defineCountry,
  isCountryCode,
  rulesFromParser,
  type CountryCode,
  type CountryRules,
  type ParsedPersonalNumber,
  type PersonalNumberParser,
  type PersonalNumberRules,
} from '../identity/country.js';
export { calendarDate, isoDate } from '../identity/calendar.js';

// What a plugin is handed: its logger and the shared store.
export type { Logger } from '../log.js';
export type { ConsumeResult, Store, StoredRecord } from '../store/store.js';
export { sharedValue } from '../oidc/keys.js';
export { consumeOnce } from '../store/retry.js';

// Errors a plugin raises, and the core's errors it meets.
export { checkSection, ConfigError, parseSection, type ConfigIssue, type SectionCheck } from '../config/load.js';
export { HttpError, PollInProgressError } from '../http/errors.js';
export { StoreUnavailableError } from '../store/store.js';
export { CircuitOpenError } from '../resilience/circuit-breaker.js';

// Requests: the body of a form post or JSON request (an upstream's callback).
export { readBody } from '../http/body.js';

// Text a client sends for the person to read (a text to sign): it must read as it is written.
export { isBlank, isShowable, UNSHOWABLE_TEXT } from '../http/shown-text.js';

// Timers on the wall clock's grid, shared with the core's own, so that they wake the process together.
export { GRID_MS, GridTicker } from '../grid-ticker.js';
export { outsideRequest, traceScope, type TraceScope } from '../http/request-scope.js';

// Where the installation's files are (a plugin's certificates and pages, beside its code).
export { projectRoot } from '../paths.js';

// Simulators built on oidc-provider: an in-memory adapter, and the broker's own login policy.
export { memoryAdapter } from '../oidc/adapter.js';
export { loginEveryTime } from '../oidc/provider.js';

export { isProductionConfiguration } from '../config/environment.js';

// JSON a plugin makes ahead for what it hands the core again and again (BankID's QR code of a second, its status while an order waits).
export { withJson, withPayload } from './shown-status.js';

// The pages' languages: a simulator's pages speak them too, with texts from its plugin's locales/.
export { languageNames, loadMessages, negotiateLocale, supportedLocales, toLocale, type Locale, type Messages } from '../http/locale.js';

// Small helpers every eID needs.
export { pluginFolder, readSettingFile, simulatorIssues, text } from './helpers.js';
// What simulators make for themselves, kept on disk between starts (simulator mode only).
export { SIMULATOR_KEY_LIFETIME_MS, simulatorCached } from './simulator-cache.js';
