import { escapeHtml, hiddenInputs } from '../../shared/simulator-page.js';
import { apiErrorStatus, failedHintCodes } from './app-choices.js';
import { rpEndpoints } from './faults.js';
import type { SimulatedOrderView } from './orders.js';
import { simulatedPersons, type SimulatedPerson } from './persons.js';
import type { OrderKind } from './requests.js';

export const APP_STYLESHEET_PATH = '/app/style.css';

/** Kept in its own file, not inline, so the page's CSP can forbid inline style. */
export const APP_STYLESHEET = `body { font-family: system-ui, sans-serif; background: #eef1f4; margin: 0; }
main { max-width: 24rem; margin: 1rem auto; background: #fff; border-radius: 1.5rem; padding: 1rem 1.25rem 1.5rem; }
h1 { font-size: 1.25rem; } h2 { font-size: 1.05rem; margin: 0 0 .5rem; }
.order { border-top: 1px solid #d5dbe1; padding: 1rem 0 .5rem; }
.notice { background: #e6f4ea; padding: .5rem .75rem; border-radius: .5rem; }
.problem { background: #fdecea; }
.message { white-space: pre-wrap; background: #f6f8fa; padding: .5rem .75rem; border-radius: .5rem; }
form { margin: .4rem 0; }
label { display: block; margin: .4rem 0; }
select, input { width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; }
details { margin: .75rem 0; }
a.button { display: block; text-align: center; padding: .7rem; border-radius: .75rem; background: #193e4f; color: #fff; }
button { width: 100%; padding: .7rem; border-radius: .75rem; border: 0; background: #193e4f; color: #fff; font-size: 1rem; }
button.secondary { background: #d5dbe1; color: #193e4f; }
`;

export interface AppNotice {
  text: string;
  problem?: boolean;
}

/** The words the app uses for each kind of order. */
const wording: Record<OrderKind, { heading: string; ask: string; verb: string }> = {
  auth: { heading: 'Identify yourself', ask: 'Message from the service:', verb: 'Identify as' },
  sign: { heading: 'Sign', ask: 'The service asks you to sign:', verb: 'Sign as' },
  payment: { heading: 'Approve a payment', ask: 'Message from the service:', verb: 'Approve as' },
  'phone/auth': { heading: 'Identify yourself to the caller', ask: 'Message from the service:', verb: 'Identify as' },
  'phone/sign': { heading: 'Sign for the caller', ask: 'The service asks you to sign:', verb: 'Sign as' },
};

/** What the app asks first of a phone order, by who called whom. */
const callQuestion: Record<'user' | 'RP', string> = {
  user: 'Did you call the service, and are you in that call now?',
  RP: 'Has the service called you, and are you in that call now?',
};

export interface AppPageOptions {
  notice?: AppNotice;
  /**
   * Where the app sends the person now: the returnUrl of an order started on this device that
   * just ended. Reached by a refresh from the app's own page, not by the form's redirect, since
   * the page's form-action only allows the app's own origin.
   */
  returnUrl?: string;
}

export function renderAppPage(orders: SimulatedOrderView[], { notice, returnUrl }: AppPageOptions = {}): string {
  const waiting = orders.filter((order) => order.status === 'pending');
  // While nothing waits, the page looks again by itself, so that a new order shows up.
  const refresh = returnUrl ?? (waiting.length === 0 ? '/app' : undefined);
  const content = returnUrl
    ? `<p><a class="button" href="${escapeHtml(returnUrl)}">Back to the service</a></p>`
    : `${waiting.length > 0 ? waiting.map(orderSection).join('\n') : nothingWaiting()}
<p><a href="${APP_FAULTS_PATH}">Make BankID's API answer with an error</a></p>`;
  return page(
    'Simulated BankID app',
    `<p>This page plays the BankID app on your phone, for trying out the service without a real BankID.</p>
${notice ? `<p class="${notice.problem ? 'notice problem' : 'notice'}">${escapeHtml(notice.text)}</p>\n` : ''}${content}`,
    refresh && `<meta http-equiv="refresh" content="${returnUrl ? 0 : 2}; url=${escapeHtml(refresh)}">`,
  );
}

export const APP_FAULTS_PATH = '/app/faults';

/** The form that makes BankID's RP API answer its next requests with an error. */
export function renderFaultPage(): string {
  return page(
    'Make BankID fail',
    `<p>BankID answers the next requests the service sends it with the error you choose, as the real BankID does when something is wrong.</p>
<form method="post" action="/app/fault">
<label>Request ${select('endpoint', rpEndpoints.map((endpoint) => [endpoint, `/${endpoint}`]))}</label>
<label>Error ${select('errorCode', Object.entries(apiErrorStatus).map(([code, status]) => [code, `${status} ${code}`]))}</label>
<label>How many requests <input type="number" name="times" value="1" min="1" max="${MAX_FAULT_TIMES}"></label>
<button type="submit">Answer with this error</button>
</form>
<p><a href="/app">Back to the app</a></p>`,
  );
}

/** More would only keep a person's broker failing long after they have seen what they wanted. */
export const MAX_FAULT_TIMES = 20;

function page(title: string, content: string, head?: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${head ? `${head}\n` : ''}<title>${title}</title>
<link rel="stylesheet" href="${APP_STYLESHEET_PATH}">
</head>
<body>
<main>
<h1>${title}</h1>
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

function nothingWaiting(): string {
  return '<p>Nothing is waiting for you. Start a login with BankID in the service, then reload this page.</p>';
}

function orderSection(order: SimulatedOrderView): string {
  if (order.qrPending) return pickupSection(order);
  return order.hintCode === 'userCallConfirm' ? callSection(order) : decisionSection(order);
}

/** A phone order asks first whether the person is in a call with the service. */
function callSection(order: SimulatedOrderView): string {
  return `<section class="order">
<h2>${wording[order.kind].heading}</h2>
<p>${escapeHtml(callQuestion[order.callInitiator ?? 'user'])}</p>
${actionForm('/app/confirm-call', order, 'Yes, I am in a call with the service')}
${actionForm('/app/decline-call', order, 'No, I am not in a call with the service', {}, 'secondary')}
${otherEndings(order)}
</section>`;
}

function pickupSection(order: SimulatedOrderView): string {
  return `<section class="order">
<h2>The service shows a QR code</h2>
<p>Order ${escapeHtml(shortRef(order))}. Scanning it starts the order on this phone.</p>
${actionForm('/app/scan', order, 'Scan the QR code shown by the service')}
${otherEndings(order)}
</section>`;
}

function decisionSection(order: SimulatedOrderView): string {
  const words = wording[order.kind];
  const people = simulatedPersons.filter((person) => mayComplete(order, person));
  return `<section class="order">
<h2>${words.heading}</h2>
${transactionShown(order)}${order.userVisibleData ? `<p>${words.ask}</p>\n<p class="message">${escapeHtml(decodeBase64(order.userVisibleData))}</p>\n` : ''}${
    order.requirement?.mrtd ? '<p>The service also checks your passport or national ID card.</p>\n' : ''
  }<p>Choose who you are:</p>
${people
  .map((person) =>
    actionForm('/app/identify', order, `${words.verb} ${person.name} (${person.personalNumber})`, {
      person: person.personalNumber,
    }),
  )
  .join('\n')}
${actionForm('/app/cancel', order, 'Cancel', {}, 'secondary')}
${otherEndings(order)}
</section>`;
}

/** A payment's transaction, as the app shows it before anything else. */
function transactionShown(order: SimulatedOrderView): string {
  const transaction = order.userVisibleTransaction;
  if (!transaction) return '';
  const lines = [
    `To: ${transaction.recipient.name}`,
    ...(transaction.money ? [`Amount: ${transaction.money.amount} ${transaction.money.currency}`] : []),
    `Type: ${transaction.transactionType}`,
    ...(transaction.riskWarning ? [`Warning: ${transaction.riskWarning}`] : []),
  ];
  return `<p class="message">${lines.map(escapeHtml).join('<br>')}</p>\n`;
}

/** Every other way BankID can end the order, for trying how the service copes. */
function otherEndings(order: SimulatedOrderView): string {
  const hintCodes = Object.entries(failedHintCodes).map(([code, meaning]): [string, string] => [code, `${code}: ${meaning}`]);
  return `<details>
<summary>Other endings</summary>
${actionForm('/app/expire', order, 'Let the order expire', {}, 'secondary')}
<form method="post" action="/app/fail">${hiddenInputs({ orderRef: order.orderRef })}<label>Hint code ${select('hintCode', hintCodes)}</label><button type="submit" class="secondary">Fail the order with this hint code</button></form>
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
