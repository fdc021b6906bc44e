import { join } from 'node:path';
import { languageNames, loadMessages, negotiateLocale, supportedLocales, toLocale, type Messages } from '../../src/eids/sdk.js';
import { escapeHtml } from './simulator-page.js';

/**
 * The languages of a simulator's pages: the broker's five, read from its plugins' locales/
 * folders like the broker's own pages, so that a simulator speaks the language the person's
 * login was in. A text is plain; the page escapes it where it puts it.
 */

/** What a simulator's page knows of the language asked for, most telling first. */
export interface LanguageAsked {
  /** The page's own language link (`?lang=`), or the language it remembers from one. */
  lang?: string | null | undefined;
  /** What the request the simulator plays asked for: an authorization request's ui_locales. */
  uiLocales?: string | null | undefined;
  /** The browser's Accept-Language header. */
  acceptLanguage?: string | null | undefined;
}

/** A page's texts in one language; `{name}` in a text is replaced by `vars.name`. */
export type Translate = (key: string, vars?: Record<string, string>) => string;

/** A page's language, its texts, and the HTML of its links to the other languages. */
export interface PageLanguage {
  locale: string;
  t: Translate;
  links: string;
}

const FALLBACK = 'en';

/** The name of a page's language links, as the broker's own pages give it, in each of its languages. */
const LANGUAGE_LINKS_LABEL = 'language.label';

export class SimulatorTexts {
  readonly #messages: Record<string, Messages>;
  readonly #locales: readonly string[];
  /** The broker's own texts, for what the simulators' pages say as the broker's do. */
  readonly #brokerMessages: Record<string, Messages> = loadMessages();

  /**
   * `folders`: the plugin folders whose locales/ hold the texts (later ones win), under the key
   * `section`; `ownLocales`: languages the simulated eID speaks besides the broker's five, each
   * a locales/<code>.json of every folder.
   */
  constructor(
    folders: readonly string[],
    readonly section: string,
    readonly ownLocales: readonly string[] = [],
  ) {
    this.#locales = [...supportedLocales, ...ownLocales];
    const loaded = folders.map((folder) => loadMessages(join(folder, 'locales'), this.#locales));
    this.#messages = Object.fromEntries(this.#locales.map((locale) => [locale, Object.assign({}, ...loaded.map((texts) => texts[locale])) as Messages]));
  }

  /** The page's language: its own link first, then the request's ui_locales, then the browser's; English else. */
  localeOf(asked: LanguageAsked): string {
    for (const tag of [asked.lang ?? '', ...(asked.uiLocales ?? '').split(' ')]) {
      const primary = tag.trim().toLowerCase().split(/[-_]/)[0] ?? '';
      const locale = this.ownLocales.includes(primary) ? primary : toLocale(tag);
      if (locale) return locale;
    }
    return negotiateLocale(undefined, asked.acceptLanguage ?? undefined, FALLBACK);
  }

  /** The translator of `locale`: a text missing in it is shown in English, else as its key. */
  translator(locale: string): Translate {
    const messages = this.#messages[locale] ?? {};
    const english = this.#messages[FALLBACK] ?? {};
    return (key, vars = {}) => {
      const path = `${this.section}.${key}`;
      return (messages[path] ?? english[path] ?? path).replace(/\{(\w+)\}/g, (whole, name: string) => vars[name] ?? whole);
    };
  }

  /** The language of a page asked for as `asked`, its translator, and its language links (see languageLinks). */
  pageLanguage(asked: LanguageAsked, href: (locale: string) => string): PageLanguage {
    const locale = this.localeOf(asked);
    return { locale, t: this.translator(locale), links: this.languageLinks(locale, href) };
  }

  /** The links to the page in every language it speaks, `href` giving each one's address. */
  languageLinks(current: string, href: (locale: string) => string): string {
    const links = this.#locales.map((locale) => {
      const name = languageNames[locale as keyof typeof languageNames] ?? this.translator(locale)('language');
      const marked = locale === current ? ' aria-current="true"' : '';
      return `<a href="${escapeHtml(href(locale))}" lang="${locale}" hreflang="${locale}"${marked}>${escapeHtml(name)}</a>`;
    });
    // Named in the page's language, as the broker's pages name theirs: a screen reader lists the page's navigation by name.
    // The dots between the links are for the eye: a screen reader set to read punctuation said "middle dot" between languages.
    return `<nav class="languages" aria-label="${escapeHtml(this.#languageLinksLabel(current))}">${links.join('<span aria-hidden="true"> · </span>')}</nav>`;
  }

  /** The name of the language links: the broker's, or in a language of the eID's own, its texts' `languages`. */
  #languageLinksLabel(locale: string): string {
    return this.#brokerMessages[locale]?.[LANGUAGE_LINKS_LABEL] ?? this.translator(locale)('languages');
  }
}
