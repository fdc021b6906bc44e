import type { RequestListener } from 'node:http';
import { join } from 'node:path';
import { pluginFolder } from '../../../src/eids/sdk.js';
import { escapeHtml, hiddenInputs, html, json, redirect, simulatorListener, simulatorStylesheet, LOOK_AGAIN_MARK, LOOK_AGAIN_SCRIPT_TAG, type Reply } from '../../shared/simulator-page.js';
import { SimulatorTexts, type PageLanguage, type Translate } from '../../shared/simulator-language.js';
import { simulatedPersons } from './persons.js';
import { FrejaError, isObject, SimulatorError } from './rules.js';
import { tampering, type Tampering, type TransactionBook, type TransactionView } from './transactions.js';
import type { FaultQueue } from './api.js';

type Fields = Record<string, unknown>;
type Action = (fields: Fields) => void;

const STYLESHEET_PATH = '/app/style.css';
/** Freja's own dark blue. */
const STYLESHEET = simulatorStylesheet('#0b3d5c');

/** The key of what the page says after a button, by `?done=`. */
const notices: Record<string, string> = { approved: 'done_approved', declined: 'done_declined', ended: 'done_ended' };

/** The app's words in every language: se-freja's locales/, section freja-simulator. */
const texts = new SimulatorTexts([join(pluginFolder(import.meta.url), '..')], 'freja-simulator');

/**
 * The plain-HTTP side of the simulator: a JSON API for tests (/control/…) and the person's
 * Freja app as a page (/app), both acting on the same transactions.
 */
export function appHandler(book: TransactionBook, faults: FaultQueue): RequestListener {
  const approve: Action = (fields) => book.approve(text(fields, 'authRef'), person(fields), tamperingOf(fields));
  const control: Record<string, Action> = {
    scan: (fields) => book.scan(text(fields, 'qr')),
    open: (fields) => book.open(text(fields, 'authRef'), optionalText(fields, 'returnUrl')),
    approve,
    decline: (fields) => book.decline(text(fields, 'authRef')),
    expire: (fields) => book.expire(text(fields, 'authRef')),
    reject: (fields) => book.reject(text(fields, 'authRef')),
    fault: (fields) => faults.inject(fields.method, fields.fault, fields.times ?? 1),
  };
  /** The page's buttons: the same actions, and which notice follows. */
  const app: Record<string, { act: Action; done?: string }> = {
    scan: { act: (fields) => book.scan(`frejaeid://bindUserToTransaction?transactionReference=${encodeURIComponent(text(fields, 'authRef'))}`) },
    approve: { act: approve, done: 'approved' },
    decline: { act: control.decline!, done: 'declined' },
    expire: { act: control.expire!, done: 'ended' },
    reject: { act: control.reject!, done: 'ended' },
  };

  const page = (language: PageLanguage, options: PageOptions = {}, status = 200): Reply => html(renderApp(book.views(), language, options), status);

  function route(method: string, url: URL, body: string, language: PageLanguage): Reply {
    const path = url.pathname;
    if (method === 'GET' && path === '/control/transactions') return json(200, book.views());
    if (method === 'GET' && path === STYLESHEET_PATH) return { status: 200, contentType: 'text/css; charset=utf-8', body: STYLESHEET };
    if (method === 'GET' && path === '/app') return showApp(url, language);
    const [, kind, name] = /^\/(control|app)\/([a-z]+)$/.exec(path) ?? [];
    if (method === 'POST' && kind === 'control' && name && Object.hasOwn(control, name)) {
      return refusedAs(
        (message) => json(400, { error: message }),
        () => {
          control[name]!(jsonFields(body));
          return json(200, {});
        },
      );
    }
    if (method === 'POST' && kind === 'app' && name && Object.hasOwn(app, name)) {
      const fields = Object.fromEntries(new URLSearchParams(body));
      return refusedAs(
        (message) => page(language, { notice: message, problem: true }, 400),
        () => {
          app[name]!.act(fields);
          const done = app[name]!.done;
          return redirect(done ? `/app?${new URLSearchParams({ done, authRef: String(fields.authRef) })}` : '/app');
        },
      );
    }
    return json(404, { error: `No ${method} ${path}` });
  }

  /**
   * `?transactionReference=` is the launch link on this device (with `originAppScheme`, where to
   * return); `?done=` follows a button, and sends a person who came by the link back.
   */
  function showApp(url: URL, language: PageLanguage): Reply {
    const reference = url.searchParams.get('transactionReference');
    if (reference !== null) {
      return refusedAs(
        (message) => page(language, { notice: message, problem: true }, 400),
        () => {
          book.open(reference, url.searchParams.get('originAppScheme') ?? undefined);
          return redirect('/app');
        },
      );
    }
    const done = url.searchParams.get('done') ?? '';
    const returnUrl = Object.hasOwn(notices, done) ? book.returnUrlAfter(url.searchParams.get('authRef') ?? '') : undefined;
    return page(language, { ...(Object.hasOwn(notices, done) ? { notice: language.t(notices[done]!) } : {}), ...(returnUrl ? { returnUrl } : {}) });
  }

  // Every page is the app's (a button's post draws it too): its language links show /app.
  return simulatorListener(({ method, url, body, language }) =>
    route(method, url, body, texts.pageLanguage(language, (locale) => `/app?lang=${locale}`)),
  );
}

function refusedAs(refusal: (message: string) => Reply, run: () => Reply): Reply {
  try {
    return run();
  } catch (error) {
    if (error instanceof SimulatorError || error instanceof FrejaError) return refusal(error.message);
    throw error;
  }
}

function jsonFields(body: string): Fields {
  let fields: unknown;
  try {
    fields = JSON.parse(body);
  } catch {
    fields = undefined;
  }
  if (!isObject(fields)) throw new SimulatorError('The body must be a JSON object');
  return fields;
}

function text(fields: Fields, name: string): string {
  const value = fields[name];
  if (typeof value !== 'string' || !value) throw new SimulatorError(`${name} must be a non-empty string`);
  return value;
}

function optionalText(fields: Fields, name: string): string | undefined {
  return fields[name] === undefined ? undefined : text(fields, name);
}

function person(fields: Fields): number | string | undefined {
  const value = fields.person;
  if (value === undefined || typeof value === 'number' || typeof value === 'string') return value;
  throw new SimulatorError('person must be an index into the test persons or a personal number');
}

function tamperingOf(fields: Fields): { tampering?: Tampering } {
  const value = fields.tampering;
  if (value === undefined || value === '') return {};
  if (!tampering.includes(value as Tampering)) throw new SimulatorError(`tampering must be one of ${tampering.join(', ')}`);
  return { tampering: value as Tampering };
}

interface PageOptions {
  notice?: string | undefined;
  problem?: boolean;
  /** Where the app sends the person now: the originAppScheme of a transaction opened on this device that just ended. */
  returnUrl?: string;
}

function renderApp(transactions: TransactionView[], { locale, t, links }: PageLanguage, { notice, problem, returnUrl }: PageOptions): string {
  const waiting = transactions.filter((transaction) => transaction.status === 'STARTED' || transaction.status === 'DELIVERED_TO_MOBILE');
  // While nothing waits the page's script looks again, so that a new transaction shows up.
  const nothingWaiting = !returnUrl && waiting.length === 0;
  const content = returnUrl
    ? `<p><a class="button" href="${escapeHtml(returnUrl)}">${escapeHtml(t('back_to_service'))}</a></p>`
    : waiting.length
      ? waiting.map((transaction) => transactionSection(transaction, t)).join('\n')
      : `<p>${escapeHtml(t('nothing_waiting'))}</p>`;
  const title = escapeHtml(t('title'));
  return `<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${returnUrl ? `<meta http-equiv="refresh" content="0; url=${escapeHtml(returnUrl)}">\n` : nothingWaiting ? `${LOOK_AGAIN_SCRIPT_TAG}\n` : ''}<title>${title}</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">
</head>
<body>
${links}
<main${nothingWaiting ? ` ${LOOK_AGAIN_MARK}` : ''}>
<h1>${title}</h1>
<p>${escapeHtml(t('intro'))}</p>
${notice ? `<p class="${problem ? 'notice problem' : 'notice'}">${escapeHtml(notice)}</p>\n` : ''}${content}
</main>
</body>
</html>
`;
}

function transactionSection(transaction: TransactionView, t: Translate): string {
  const ref = transaction.authRef.slice(0, 8);
  if (transaction.awaitingApp) {
    return `<section>
<h2>${escapeHtml(t('qr_heading'))}</h2>
<p>${escapeHtml(t('qr_transaction', { transaction: ref }))}</p>
${form('/app/scan', transaction, t('qr_scan'))}
${form('/app/expire', transaction, t('expire'), {}, 'secondary')}
</section>`;
  }
  const people = simulatedPersons.map((person) =>
    form('/app/approve', transaction, t('approve_as', { person: `${person.name} ${person.surname} (${person.registrationLevel})` }), { person: person.ssn }),
  );
  const spoilt = `<form method="post" action="/app/approve">${hiddenInputs({ authRef: transaction.authRef })}<label>${escapeHtml(t('spoil'))} <select name="tampering">${tampering
    .map((kind) => `<option value="${kind}">${escapeHtml(`${kind}: ${t(`tampering_${kind}`)}`)}</option>`)
    .join('')}</select></label><button type="submit" class="secondary">${escapeHtml(t('approve_spoilt', { person: simulatedPersons[0]!.name }))}</button></form>`;
  return `<section>
<h2>${escapeHtml(t('question'))}</h2>
<p>${escapeHtml(t('transaction', { transaction: ref, level: transaction.minRegistrationLevel }))}</p>
${people.join('\n')}
${form('/app/decline', transaction, t('decline'), {}, 'secondary')}
<details>
<summary>${escapeHtml(t('other_endings'))}</summary>
${form('/app/expire', transaction, t('expire'), {}, 'secondary')}
${form('/app/reject', transaction, t('reject'), {}, 'secondary')}
${spoilt}
</details>
</section>`;
}

function form(action: string, transaction: TransactionView, label: string, fields: Record<string, string> = {}, buttonClass?: string): string {
  return `<form method="post" action="${action}">${hiddenInputs({ authRef: transaction.authRef, ...fields })}<button type="submit"${buttonClass ? ` class="${buttonClass}"` : ''}>${escapeHtml(label)}</button></form>`;
}
