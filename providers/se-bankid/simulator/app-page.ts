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
};

export function renderAppPage(orders: SimulatedOrderView[], notice?: AppNotice): string {
  const waiting = orders.filter((order) => order.status === 'pending');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${waiting.length > 0 ? '<meta http-equiv="refresh" content="2; url=/app">\n' : ''}<title>Simulated BankID app</title>
<link rel="stylesheet" href="${APP_STYLESHEET_PATH}">
</head>
<body>
<main>
<h1>Simulated BankID app</h1>
<p>This page plays the BankID app on your phone, for trying out the service without a real BankID.</p>
${notice ? `<p class="${notice.problem ? 'notice problem' : 'notice'}">${escapeHtml(notice.text)}</p>\n` : ''}${
    waiting.length > 0 ? waiting.map(orderSection).join('\n') : nothingWaiting()
  }
</main>
</body>
</html>
`;
}

function nothingWaiting(): string {
  return '<p>Nothing is waiting for you. Start a login with BankID in the service, then reload this page.</p>';
}

function orderSection(order: SimulatedOrderView): string {
  return order.qrPending ? pickupSection(order) : decisionSection(order);
}

function pickupSection(order: SimulatedOrderView): string {
  return `<section class="order">
<h2>The service shows a QR code</h2>
<p>Order ${escapeHtml(shortRef(order))}. Scanning it starts the order on this phone.</p>
${actionForm('/app/scan', order, 'Scan the QR code shown by the service')}
</section>`;
}

function decisionSection(order: SimulatedOrderView): string {
  const words = wording[order.kind];
  const people = simulatedPersons.filter((person) => mayComplete(order, person));
  return `<section class="order">
<h2>${words.heading}</h2>
${order.userVisibleData ? `<p>${words.ask}</p>\n<p class="message">${escapeHtml(decodeBase64(order.userVisibleData))}</p>\n` : ''}${
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
</section>`;
}

function mayComplete(order: SimulatedOrderView, person: SimulatedPerson): boolean {
  const required = order.requirement?.personalNumber;
  return !required || required === person.personalNumber;
}

function actionForm(
  action: string,
  order: SimulatedOrderView,
  label: string,
  fields: Record<string, string> = {},
  buttonClass?: string,
): string {
  const inputs = Object.entries({ orderRef: order.orderRef, ...fields })
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('');
  const classAttribute = buttonClass ? ` class="${buttonClass}"` : '';
  return `<form method="post" action="${action}">${inputs}<button type="submit"${classAttribute}>${escapeHtml(label)}</button></form>`;
}

function shortRef(order: SimulatedOrderView): string {
  return order.orderRef.slice(0, 8);
}

function decodeBase64(data: string): string {
  return Buffer.from(data, 'base64').toString('utf8');
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character] ?? character);
}
