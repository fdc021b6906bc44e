import { escapeHtml, hiddenInputs, LOOK_AGAIN_MARK, LOOK_AGAIN_SCRIPT_TAG, simulatorStylesheet } from '../../shared/simulator-page.js';
import type { PageLanguage, Translate } from '../../shared/simulator-language.js';
import { apiErrorStatus, failedHintCodes } from './app-choices.js';
import { rpEndpoints } from './faults.js';
import type { SimulatedOrderView } from './orders.js';
import { simulatedPersons, type SimulatedPerson } from './persons.js';
import type { OrderKind } from './requests.js';

export const APP_STYLESHEET_PATH = '/app/style.css';

/** BankID's own dark blue. */
export const APP_STYLESHEET = simulatorStylesheet('#193e4f');

export interface AppNotice {
  text: string;
  problem?: boolean;
}

/** The keys of the words the app uses for each kind of order (locales/, section bankid-simulator). */
const wording: Record<OrderKind, { heading: string; ask: string; verb: string }> = {
  auth: { heading: 'heading_auth', ask: 'ask_message', verb: 'verb_identify' },
  sign: { heading: 'heading_sign', ask: 'ask_sign', verb: 'verb_sign' },
  payment: { heading: 'heading_payment', ask: 'ask_message', verb: 'verb_approve' },
  'phone/auth': { heading: 'heading_phone_auth', ask: 'ask_message', verb: 'verb_identify' },
  'phone/sign': { heading: 'heading_phone_sign', ask: 'ask_sign', verb: 'verb_sign' },
};

/** The key of what the app asks first of a phone order, by who called whom. */
const callQuestion: Record<'user' | 'RP', string> = { user: 'call_user', RP: 'call_rp' };

export interface AppPageOptions {
  notice?: AppNotice;
  /**
   * Where the app sends the person now: the returnUrl of an order started on this device that
   * just ended. Reached by a refresh from the app's own page, not by the form's redirect, since
   * the page's form-action only allows the app's own origin.
   */
  returnUrl?: string;
}

export function renderAppPage(orders: SimulatedOrderView[], language: PageLanguage, { notice, returnUrl }: AppPageOptions = {}): string {
  const { t } = language;
  const waiting = orders.filter((order) => order.status === 'pending');
  // While nothing waits, the page's script looks again, so that a new order shows up.
  const nothingWaiting = !returnUrl && waiting.length === 0;
  const content = returnUrl
    ? `<p><a class="button" href="${escapeHtml(returnUrl)}">${escapeHtml(t('back_to_service'))}</a></p>`
    : `${waiting.length > 0 ? waiting.map((order) => orderSection(order, t)).join('\n') : `<p>${escapeHtml(t('nothing_waiting'))}</p>`}
<p><a href="${APP_FAULTS_PATH}">${escapeHtml(t('faults_link'))}</a></p>`;
  return page(
    language,
    t('app_title'),
    `<p>${escapeHtml(t('app_intro'))}</p>
${notice ? `<p class="${notice.problem ? 'notice problem' : 'notice'}">${escapeHtml(notice.text)}</p>\n` : ''}${content}`,
    returnUrl ? `<meta http-equiv="refresh" content="0; url=${escapeHtml(returnUrl)}">` : nothingWaiting ? LOOK_AGAIN_SCRIPT_TAG : undefined,
    nothingWaiting,
  );
}

export const APP_FAULTS_PATH = '/app/faults';

/** The form that makes BankID's RP API answer its next requests with an error. */
export function renderFaultPage(language: PageLanguage): string {
  const { t } = language;
  return page(
    language,
    t('faults_title'),
    `<p>${escapeHtml(t('faults_intro'))}</p>
<form method="post" action="/app/fault">
<label>${escapeHtml(t('faults_request'))} ${select('endpoint', rpEndpoints.map((endpoint) => [endpoint, `/${endpoint}`]))}</label>
<label>${escapeHtml(t('faults_error'))} ${select('errorCode', Object.entries(apiErrorStatus).map(([code, status]) => [code, `${status} ${code}`]))}</label>
<label>${escapeHtml(t('faults_times'))} <input type="number" name="times" value="1" min="1" max="${MAX_FAULT_TIMES}"></label>
<button type="submit">${escapeHtml(t('faults_submit'))}</button>
</form>
<p><a href="/app">${escapeHtml(t('back_to_app'))}</a></p>`,
  );
}

/** More would only keep a person's broker failing long after they have seen what they wanted. */
export const MAX_FAULT_TIMES = 20;

function page({ locale, links }: PageLanguage, title: string, content: string, head?: string, nothingWaiting = false): string {
  return `<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${head ? `${head}\n` : ''}<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${APP_STYLESHEET_PATH}">
</head>
<body>
${links}
<main${nothingWaiting ? ` ${LOOK_AGAIN_MARK}` : ''}>
<h1>${escapeHtml(title)}</h1>
${content}
</main>
</body>
</html>
`;
}

function select(name: string, options: [value: string, label: string][]): string {
  return `<select name="${name}">${options
    .map(([value, label]) => `<option value="${escapeHtml(value)}">${escapeHtml(label)}</option>`)
    .join('')}</select>`;
}

function orderSection(order: SimulatedOrderView, t: Translate): string {
  if (order.qrPending) return pickupSection(order, t);
  return order.hintCode === 'userCallConfirm' ? callSection(order, t) : decisionSection(order, t);
}

/** A phone order asks first whether the person is in a call with the service. */
function callSection(order: SimulatedOrderView, t: Translate): string {
  return `<section class="order">
<h2>${escapeHtml(t(wording[order.kind].heading))}</h2>
<p>${escapeHtml(t(callQuestion[order.callInitiator ?? 'user']))}</p>
${actionForm('/app/confirm-call', order, t('call_yes'))}
${actionForm('/app/decline-call', order, t('call_no'), {}, 'secondary')}
${otherEndings(order, t)}
</section>`;
}

function pickupSection(order: SimulatedOrderView, t: Translate): string {
  return `<section class="order">
<h2>${escapeHtml(t('qr_heading'))}</h2>
<p>${escapeHtml(t('qr_order', { order: shortRef(order) }))}</p>
${actionForm('/app/scan', order, t('qr_scan'))}
${otherEndings(order, t)}
</section>`;
}

function decisionSection(order: SimulatedOrderView, t: Translate): string {
  const words = wording[order.kind];
  const people = simulatedPersons.filter((person) => mayComplete(order, person));
  return `<section class="order">
<h2>${escapeHtml(t(words.heading))}</h2>
${transactionShown(order, t)}${order.userVisibleData ? `<p>${escapeHtml(t(words.ask))}</p>\n<p class="message">${escapeHtml(decodeBase64(order.userVisibleData))}</p>\n` : ''}${
    order.requirement?.mrtd ? `<p>${escapeHtml(t('mrtd'))}</p>\n` : ''
  }<p>${escapeHtml(t('choose_person'))}</p>
${people
  .map((person) =>
    actionForm('/app/identify', order, t(words.verb, { person: `${person.name} (${person.personalNumber})` }), {
      person: person.personalNumber,
    }),
  )
  .join('\n')}
${actionForm('/app/cancel', order, t('cancel'), {}, 'secondary')}
${otherEndings(order, t)}
</section>`;
}

/** A payment's transaction, as the app shows it before anything else. */
function transactionShown(order: SimulatedOrderView, t: Translate): string {
  const transaction = order.userVisibleTransaction;
  if (!transaction) return '';
  const lines = [
    t('payment_to', { recipient: transaction.recipient.name }),
    ...(transaction.money ? [t('payment_amount', { amount: `${transaction.money.amount} ${transaction.money.currency}` })] : []),
    t('payment_type', { type: transaction.transactionType }),
    ...(transaction.riskWarning ? [t('payment_warning', { warning: transaction.riskWarning })] : []),
  ];
  return `<p class="message">${lines.map(escapeHtml).join('<br>')}</p>\n`;
}

/** Every other way BankID can end the order, for trying how the service copes. */
function otherEndings(order: SimulatedOrderView, t: Translate): string {
  const hintCodes = failedHintCodes.map((code): [string, string] => [code, `${code}: ${t(`hint_${code}`)}`]);
  return `<details>
<summary>${escapeHtml(t('other_endings'))}</summary>
${actionForm('/app/expire', order, t('expire'), {}, 'secondary')}
<form method="post" action="/app/fail">${hiddenInputs({ orderRef: order.orderRef })}<label>${escapeHtml(t('hint_code'))} ${select('hintCode', hintCodes)}</label><button type="submit" class="secondary">${escapeHtml(t('fail'))}</button></form>
</details>`;
}

function mayComplete(order: SimulatedOrderView, person: SimulatedPerson): boolean {
  const required = order.personalNumber ?? order.requirement?.personalNumber;
  return !required || required === person.personalNumber;
}

function actionForm(
  action: string,
  order: SimulatedOrderView,
  label: string,
  fields: Record<string, string> = {},
  buttonClass?: string,
): string {
  const classAttribute = buttonClass ? ` class="${buttonClass}"` : '';
  return `<form method="post" action="${action}">${hiddenInputs({ orderRef: order.orderRef, ...fields })}<button type="submit"${classAttribute}>${escapeHtml(label)}</button></form>`;
}

function shortRef(order: SimulatedOrderView): string {
  return order.orderRef.slice(0, 8);
}

function decodeBase64(data: string): string {
  return Buffer.from(data, 'base64').toString('utf8');
}
