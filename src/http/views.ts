import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Eta } from 'eta';
import type { Context } from 'koa';
import type { BrokerConfig } from '../config/schema.js';
import { requestScope } from '../log.js';
import { viewsDir } from '../paths.js';
import { loadMessages, negotiateLocale, supportedLocales, type Locale, type Messages } from './locale.js';

/** Set by the login routes: the client's ui_locales, and where "back to the service" goes. */
export interface LocaleState {
  uiLocales?: string;
  /** A form that ends the login with access_denied, back at the client. */
  cancelUrl?: string;
  /** The login's token, which the broker's own forms carry. */
  formToken?: string;
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

/** Each language by its own name, for the language switch. */
const languageNames: Record<Locale, string> = { sv: 'Svenska', en: 'English', nb: 'Norsk bokmål', fi: 'Suomi', da: 'Dansk' };

const isLocale = (value: unknown): value is Locale => supportedLocales.includes(value as Locale);

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
      ctx.cookies.set(LANGUAGE_COOKIE, picked, { httpOnly: true, sameSite: 'lax', overwrite: true });
      return picked;
    }
    const remembered = ctx.cookies.get(LANGUAGE_COOKIE);
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

  render(ctx: Context, template: string, data: Record<string, unknown>): void {
    const locale = this.localeOf(ctx);
    ctx.type = 'html';
    // A page shows one moment of a login: Back must ask the broker again, never show a stale copy.
    ctx.set('Cache-Control', 'no-store');
    const html = this.#eta.render(template, {
      ...data,
      locale,
      t: this.translator(locale),
      traceId: requestScope.getStore()?.traceId,
      // A language link reloads the page, so only pages reached by GET offer it. It is a query
      // alone, relative to the page: a request path such as //evil.example/x never becomes a link.
      languages:
        ctx.method === 'GET' ? supportedLocales.map((code) => ({ code, name: languageNames[code], current: code === locale, href: `?lang=${code}` })) : [],
      operatorCss: Boolean(this.#ui.overrides.css),
    });
    const { formToken } = ctx.state as LocaleState;
    ctx.body = formToken ? withFormToken(html, formToken) : html;
  }

  /** A page that says in plain words what went wrong, with the traceId and a way back. */
  renderError(ctx: Context, error: { error: string }): void {
    const t = this.translator(this.localeOf(ctx));
    this.render(ctx, 'error', {
      message: t(`error.${error.error}`, {}, t('error.default')),
      code: error.error,
      cancelUrl: (ctx.state as LocaleState).cancelUrl,
      contact: this.#ui.show_contact ? this.#ui.support_email : undefined,
    });
  }
}
