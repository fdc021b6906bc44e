import { Eta } from 'eta';
import type { Context } from 'koa';
import { requestScope } from '../log.js';
import { viewsDir } from '../paths.js';
import { loadMessages, negotiateLocale, type Locale, type Messages } from './locale.js';

/** Set by routes that know the client's ui_locales (the interaction's), to pick the page language. */
export interface LocaleState {
  uiLocales?: string;
}

/**
 * The pages a person sees. Templates (views/*.eta) escape everything they print unless told
 * otherwise, and the only unescaped content is markup the broker made itself.
 */
export class Views {
  readonly #eta = new Eta({ views: viewsDir, cache: true, autoEscape: true });
  readonly #messages: Record<Locale, Messages> = loadMessages();
  readonly #defaultLocale: Locale;

  constructor(defaultLocale: Locale) {
    this.#defaultLocale = defaultLocale;
  }

  localeOf(ctx: Context): Locale {
    const state = ctx.state as LocaleState;
    const oidcParams = (ctx as Context & { oidc?: { params?: { ui_locales?: unknown } } }).oidc?.params;
    const uiLocales = state.uiLocales ?? (typeof oidcParams?.ui_locales === 'string' ? oidcParams.ui_locales : undefined);
    return negotiateLocale(uiLocales, ctx.get('accept-language'), this.#defaultLocale);
  }

  /** The translator for one locale. A missing key shows as `fallback`, else as the key itself. */
  translator(locale: string): (key: string, vars?: Record<string, string>, fallback?: string) => string {
    const messages = this.#messages[locale as Locale] ?? this.#messages[this.#defaultLocale];
    return (key, vars = {}, fallback = key) =>
      (messages[key] ?? fallback).replace(/\{(\w+)\}/g, (whole, name: string) => vars[name] ?? whole);
  }

  render(ctx: Context, template: string, data: Record<string, unknown>): void {
    const locale = this.localeOf(ctx);
    ctx.type = 'html';
    ctx.body = this.#eta.render(template, {
      ...data,
      locale,
      t: this.translator(locale),
      traceId: requestScope.getStore()?.traceId,
    });
  }

  /** A page that says in plain words what went wrong, with the traceId for support. */
  renderError(ctx: Context, error: { error: string; description?: string; backTo?: string }): void {
    const t = this.translator(this.localeOf(ctx));
    this.render(ctx, 'error', {
      message: t(`error.${error.error}`, {}, t('error.default')),
      code: error.error,
      backTo: error.backTo,
    });
  }
}
