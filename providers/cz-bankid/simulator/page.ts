import type { SimulatedBank, SimulatedCzechPerson } from './people.js';
import type { PageLanguage } from '../../shared/simulator-language.js';
import { backToBroker, escapeHtml, personShown, SIMULATOR_STYLESHEET_LINK } from '../../shared/simulator-page.js';

/**
 * The bank chooser and consent page: one form, no script. Approve or decline is the submit
 * button pressed; a bank or person marked with an error ends the login with that error callback.
 */
export function decisionPage(options: {
  requestId: string;
  language: PageLanguage;
  banks: readonly SimulatedBank[];
  persons: readonly SimulatedCzechPerson[];
  scopes: readonly string[];
  bankId?: string;
}): string {
  const { locale, t, links } = options.language;
  const title = escapeHtml(t('title'));
  const banks = options.banks
    .map((bank) => `<option value="${escapeHtml(bank.id)}"${bank.id === options.bankId ? ' selected' : ''}>${escapeHtml(bank.title)}</option>`)
    .join('');
  const persons = options.persons
    .map(
      (person, i) =>
        `<label><input type="radio" name="person" value="${escapeHtml(person.accountId)}"${i === 0 ? ' checked' : ''}> ${escapeHtml(personShown(person, t))}</label>`,
    )
    .join('\n');
  const scopes = options.scopes.map((scope) => `<li>${escapeHtml(scope)}</li>`).join('');
  return simulatorDocument(locale, title, links, `<p>${escapeHtml(t('intro'))}</p>
<form method="post" action="/auth/decision">
<input type="hidden" name="request" value="${escapeHtml(options.requestId)}">
<p><label>${escapeHtml(t('bank'))} <select name="bank">${banks}</select></label></p>
<fieldset><legend>${escapeHtml(t('person'))}</legend>
${persons}
</fieldset>
<p>${escapeHtml(t('data'))}:</p><ul>${scopes}</ul>
<button type="submit" name="decision" value="approve">${escapeHtml(t('approve'))}</button>
<button type="submit" name="decision" value="decline" class="secondary">${escapeHtml(t('decline'))}</button>
</form>`);
}

/**
 * The page for a decision on a login that is over (Back to the page after it ended, or its time
 * ran out): what happened and what to do, in the person's language, with nothing to submit but
 * the way back to the broker (backToBroker), for the login `state` names when the page knows it.
 */
export function overPage({ locale, t }: PageLanguage, redirectUri: string, state: string | undefined): string {
  return simulatorDocument(locale, escapeHtml(t('title')), '', `<p>${escapeHtml(t('over'))}</p>${backToBroker(redirectUri, { state }, t('back'))}`);
}

/** A page of the simulator: `title` and `main` already escaped. */
function simulatorDocument(locale: string, title: string, links: string, main: string): string {
  return `<!doctype html><html lang="${locale}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title><link rel="icon" href="data:,">${SIMULATOR_STYLESHEET_LINK}</head>
<body>${links}<main><h1>${title}</h1>${main}</main></body></html>`;
}
