import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Eta } from 'eta';
import type { Context } from 'koa';
import type { BrokerConfig } from '../config/schema.js';
import { isRead } from './errors.js';
import { currentTraceId } from './request-scope.js';
import { siteCookieName } from './site-cookies.js';
import { viewsDir } from '../paths.js';
import { isLocale, languageNames, loadMessages, negotiateLocale, supportedLocales, type Locale, type Messages } from './locale.js';

/** Set by the login routes: the client's ui_locales, and where "back to the service" goes. */
export interface LocaleState {
  uiLocales?: string;
  /** A form that ends the login with access_denied, back at the client. */
  cancelUrl?: string;
  /** The login's token, which the broker's own forms carry. */
  formToken?: string;
  /** Set on an eID's pages when leaving the eID returns to the picker: its way back says so. */
  returnsToPicker?: boolean;
}

/** The hidden field of the broker's own forms that carries the login's form token. */
export const FORM_TOKEN_FIELD = 'form_token';

/**
 * Every form on a page of a login carries the login's token, whichever template drew it, so no
 * template can leave it out. The token is base64url: nothing in it needs escaping.
 */
function withFormToken(html: string, token: string): string {
  return html.replace(/<form\b[^>]*\bmethod="post"[^>]*>/gi, (form) => `${form}\n  <input type="hidden" name="${FORM_TOKEN_FIELD}" value="${token}">`);
}

/** The language a person picked on a page, kept for the browser session. */
const LANGUAGE_COOKIE = 'neb_lang';

/** Where a page is shown again by GET: a path of the broker's own ('' for this page), and its query. */
export interface PageAgain {
  path: string;
  query?: Record<string, string>;
}

/** What an error page offers besides its message: a way back to the client, and its language links. */
export interface ErrorPage {
  /**
   * What failed, when it is not the login's request: a logout's page speaks of the logout, an
   * eID's answer that belongs to no login under way (`eid_return`) of that answer, a choice on the
   * picker the login does not offer (`eid_choice`) of that choice, a return link from an eID's app
   * that is not the one of the transaction under way (`app_return`, an earlier try's) of that link,
   * an address opened with a method it does not take (`wrong_method`: a form's, by GET) of that address,
   * a form a client POSTed that no longer opens (`sealed_form`: its time ran out, or it was altered) of that request.
   */
  during?: 'logout' | 'eid_return' | 'eid_choice' | 'app_return' | 'wrong_method' | 'sealed_form';
  /** The login's picker, where the next step is to choose again (its own address, shown by GET). */
  chooseAgain?: string;
  /** The page where the login goes on as it stands (its own address, shown by GET). */
  goOn?: string;
  /** The client's own page (a URL registered for it) and its name, when the broker knows them. */
  wayBack?: { href: string; client: string };
  again?: PageAgain;
  /** A form that sends the failed request again, where doing so is the next step: a broker path and its fields. */
  retry?: { action: string; fields: Record<string, string> };
}

/**
 * The query as the browser sent it, before any step of the broker's replaced it: a GET that
 * carries a form sealed (posted-requests.ts) goes on with the form opened, which stays out of URLs.
 */
export function sentQuery(ctx: Context): URLSearchParams {
  const { originalUrl } = ctx;
  const start = originalUrl.indexOf('?');
  return new URLSearchParams(start === -1 ? '' : originalUrl.slice(start + 1));
}

/**
 * The language switch: each link shows the page again with another `lang`. A page reached by GET
 * keeps the rest of its query as the browser sent it (sentQuery), so that what is under way (a
 * logout's post_logout_redirect_uri and state, a return link's nonce) is kept, and links to a
 * query alone, relative to the page, so a request path such as //evil.example/x never becomes a
 * link. A page that says where it is shown again (`again`: a page drawn for a POST, an error page)
 * links there; one drawn for a POST that does not has no links.
 */
function languageLinks(ctx: Context, locale: Locale, again?: PageAgain) {
  if (ctx.method !== 'GET' && !again) return [];
  const path = again?.path ?? '';
  const query = again ? new URLSearchParams(again.query) : sentQuery(ctx);
  return supportedLocales.map((code) => {
    query.set('lang', code);
    return { code, name: languageNames[code], current: code === locale, href: `${path}?${query}` };
  });
}

/**
 * The statuses that say "not now" rather than "no": too many requests (RFC 6585 §4) and busy or
 * unavailable (RFC 9110 §15.6.4). Their pages offer to try again once the wait is over.
 */
const NOT_NOW: ReadonlySet<number> = new Set([429, 503]);

/** How an error page that says "not now" tries again, and how many seconds it waits first. */
interface TryAgain {
  how: 'reload' | 'back';
  waitSeconds: number;
}

/**
 * The Try again of a page that says "not now", unless the page sends the request again itself
 * (`retry`, a logout's form). A GET is asked again by loading the same address. A page that
 * answered a POST goes back to the form instead: loading it again would post the form anew behind
 * the browser's own warning, with a form token or xsrf the failed request may have spent, while
 * the form, shown again, is fresh and the person sends it when ready. The wait is the answer's
 * Retry-After, which the broker sets in whole seconds; nothing of the request goes into the page.
 */
function tryAgainOf(ctx: Context, retry: ErrorPage['retry']): TryAgain | undefined {
  if (!NOT_NOW.has(ctx.status) || retry) return undefined;
  const retryAfter = Number(ctx.response.get('Retry-After'));
  return { how: isRead(ctx.method) ? 'reload' : 'back', waitSeconds: Number.isSafeInteger(retryAfter) && retryAfter > 0 ? retryAfter : 0 };
}

/** The step an error page offers first, where the login can go on: choosing again, or on with what is under way. */
function nextStep(t: ReturnType<Views['translator']>, error: ErrorPage): { href: string; label: string } | undefined {
  if (error.chooseAgain) return { href: error.chooseAgain, label: t('action.choose_another') };
  if (error.goOn) return { href: error.goOn, label: t('action.go_on') };
  return undefined;
}

/**
 * The sentence an error page says: a logout's own (`logout.error.<code>`) during a logout, then
 * the error's (`error.<code>`), then the default of what failed.
 */
function errorMessage(t: ReturnType<Views['translator']>, code: string, during?: ErrorPage['during']): string {
  const general = t(`error.${code}`, {}, '');
  if (!during) return general || t('error.default');
  return t(`${during}.error.${code}`, {}, general || t(`${during}.error.default`));
}

/**
 * The pages a person sees. Templates (views/*.eta) escape everything they print unless told
 * otherwise, and the only unescaped content is markup the broker made itself.
 */
export class Views {
  readonly #eta = new Eta({ views: viewsDir, cache: true, autoEscape: true });
  readonly #messages: Record<Locale, Messages>;
  readonly #ui: BrokerConfig['ui'];

  constructor(ui: BrokerConfig['ui']) {
    this.#ui = ui;
    const base = loadMessages();
    // The operator's message overrides win over the broker's own texts.
    this.#messages = Object.fromEntries(
      supportedLocales.map((locale) => [locale, { ...base[locale], ...ui.overrides.messages[locale] }]),
    ) as Record<Locale, Messages>;
  }

  /**
   * An eID plugin's own pages and texts (`EidPlugin.assets`): each views/<name>.eta becomes
   * template `@<id>/<name>`, and its locales/ are merged beneath the broker's texts and the
   * operator's overrides, which keep the last word.
   */
  addPlugin(id: string, folder: string): void {
    const templates = join(folder, 'views');
    if (existsSync(templates)) {
      for (const file of readdirSync(templates).filter((name) => name.endsWith('.eta'))) {
        this.#eta.loadTemplate(`@${id}/${basename(file, '.eta')}`, readFileSync(join(templates, file), 'utf8'));
      }
    }
    const locales = join(folder, 'locales');
    if (!existsSync(locales)) return;
    const texts = loadMessages(locales);
    for (const locale of supportedLocales) this.#messages[locale] = { ...texts[locale], ...this.#messages[locale] };
  }

  /**
   * The page language: the person's own pick (?lang=, then remembered), the client's
   * ui_locales, the browser's Accept-Language, then the configured default.
   */
  localeOf(ctx: Context): Locale {
    const picked = ctx.query.lang;
    if (isLocale(picked)) {
      ctx.cookies.set(siteCookieName(ctx, LANGUAGE_COOKIE), picked, { httpOnly: true, sameSite: 'lax', overwrite: true });
      return picked;
    }
    const remembered = ctx.cookies.get(siteCookieName(ctx, LANGUAGE_COOKIE));
    if (isLocale(remembered)) return remembered;
    const state = ctx.state as LocaleState;
    const oidcParams = (ctx as Context & { oidc?: { params?: { ui_locales?: unknown } } }).oidc?.params;
    const uiLocales = state.uiLocales ?? (typeof oidcParams?.ui_locales === 'string' ? oidcParams.ui_locales : undefined);
    return negotiateLocale(uiLocales, ctx.get('accept-language'), this.#ui.default_locale);
  }

  /** The translator for one locale. A missing key shows as `fallback`, else as the key itself. */
  translator(locale: string): (key: string, vars?: Record<string, string>, fallback?: string) => string {
    const messages = this.#messages[locale as Locale] ?? this.#messages[this.#ui.default_locale];
    return (key, vars = {}, fallback = key) =>
      (messages[key] ?? fallback).replace(/\{(\w+)\}/g, (whole, name: string) => vars[name] ?? whole);
  }

  /**
   * Renders `template`. `data.again` names the page again for a page drawn for a POST (which
   * otherwise has no language links): a path of the broker's that shows it by GET, and the
   * query it needs. `languageLinks: false`: a page that has none (one that only passes through).
   */
  render(ctx: Context, template: string, data: Record<string, unknown> & { again?: PageAgain; languageLinks?: false }): void {
    const locale = this.localeOf(ctx);
    const state = ctx.state as LocaleState;
    const t = this.translator(locale);
    ctx.type = 'html';
    // A page shows one moment of a login: Back must ask the broker again, never show a stale copy.
    ctx.set('Cache-Control', 'no-store');
    const html = this.#eta.render(template, {
      ...data,
      locale,
      t,
      // The way out of an eID's page: back to the picker when the login returns there, else to the client.
      back: t(state.returnsToPicker ? 'action.choose_another' : 'action.back'),
      // Whether the picker offers other ways to log in: a login with none would come straight back.
      returnsToPicker: Boolean(state.returnsToPicker),
      traceId: currentTraceId(),
      languages: data.languageLinks === false ? [] : languageLinks(ctx, locale, data.again),
      operatorCss: Boolean(this.#ui.overrides.css),
    });
    ctx.body = state.formToken ? withFormToken(html, state.formToken) : html;
  }

  /** A page that says in plain words what went wrong, with the traceId and a way back. */
  renderError(ctx: Context, error: { error: string } & ErrorPage): void {
    const t = this.translator(this.localeOf(ctx));
    this.render(ctx, 'error', {
      message: errorMessage(t, error.error, error.during),
      code: error.error,
      cancelUrl: (ctx.state as LocaleState).cancelUrl,
      wayBack: error.wayBack,
      next: nextStep(t, error),
      retry: error.retry,
      tryAgain: tryAgainOf(ctx, error.retry),
      contact: this.#ui.show_contact ? this.#ui.support_email : undefined,
      // An error page keeps nothing of the request that failed, not even in its language links.
      again: error.again ?? (ctx.method === 'GET' ? { path: '' } : undefined),
    });
  }
}
