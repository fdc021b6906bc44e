import type { SimulatedBank, SimulatedCzechPerson } from './people.js';

/** The page's words, in the two languages Bank iD's own pages offer. */
const words = {
  cs: {
    title: 'Simulovaná Bankovní identita',
    intro: 'Simulátor pro vývoj a testy: vyberte banku a testovací osobu.',
    bank: 'Banka',
    person: 'Osoba',
    approve: 'Přihlásit a předat údaje',
    decline: 'Odmítnout',
    data: 'Služba žádá tyto údaje',
  },
  en: {
    title: 'Simulated Bank iD',
    intro: 'A simulator for development and tests: choose a bank and a test person.',
    bank: 'Bank',
    person: 'Person',
    approve: 'Log in and share the data',
    decline: 'Decline',
    data: 'The service asks for',
  },
} as const;

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * The bank chooser and consent page: one form, no script. Approve or decline is the submit
 * button pressed; a bank or person marked with an error ends the login with that error callback.
 */
export function decisionPage(options: {
  requestId: string;
  locale: 'cs' | 'en';
  banks: readonly SimulatedBank[];
  persons: readonly SimulatedCzechPerson[];
  scopes: readonly string[];
  bankId?: string;
}): string {
  const t = words[options.locale];
  const banks = options.banks
    .map((bank) => `<option value="${escapeHtml(bank.id)}"${bank.id === options.bankId ? ' selected' : ''}>${escapeHtml(bank.title)}</option>`)
    .join('');
  const persons = options.persons
    .map(
      (person, i) =>
        `<label><input type="radio" name="person" value="${escapeHtml(person.accountId)}"${i === 0 ? ' checked' : ''}> ${escapeHtml(person.label)}</label><br>`,
    )
    .join('\n');
  const scopes = options.scopes.map((scope) => `<li>${escapeHtml(scope)}</li>`).join('');
  return `<!doctype html><html lang="${options.locale}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${t.title}</title><link rel="icon" href="data:,"></head>
<body><main><h1>${t.title}</h1><p>${t.intro}</p>
<form method="post" action="/auth/decision">
<input type="hidden" name="request" value="${escapeHtml(options.requestId)}">
<p><label>${t.bank} <select name="bank">${banks}</select></label></p>
<fieldset><legend>${t.person}</legend>
${persons}
</fieldset>
<p>${t.data}:</p><ul>${scopes}</ul>
<button type="submit" name="decision" value="approve">${t.approve}</button>
<button type="submit" name="decision" value="decline">${t.decline}</button>
</form></main></body></html>`;
}
