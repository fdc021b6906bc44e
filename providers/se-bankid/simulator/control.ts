import type { RequestListener } from 'node:http';
import { join } from 'node:path';
import { pluginFolder } from '../../../src/eids/sdk.js';
import { html, json, redirect, simulatorListener, type Reply } from '../../shared/simulator-page.js';
import { SimulatorTexts, type LanguageAsked, type PageLanguage } from '../../shared/simulator-language.js';
import { apiErrorStatus, failedHintCodes } from './app-choices.js';
import {
  APP_FAULTS_PATH,
  APP_STYLESHEET,
  APP_STYLESHEET_PATH,
  MAX_FAULT_TIMES,
  renderAppPage,
  renderFaultPage,
  type AppPageOptions,
} from './app-page.js';
import { SimulatorError } from './errors.js';
import type { FaultQueue } from './faults.js';
import { parseJson } from './http.js';
import type { OrderBook } from './orders.js';
import { isJsonObject, type JsonObject } from './requests.js';

type Route = (request: { url: URL; body: string; language: PageLanguage }) => Reply;

/** An action of the person's app, taking its fields from JSON or from a form. */
type Action = (fields: JsonObject) => void;

type Done = 'identified' | 'cancelled' | 'failed' | 'fault';

/** The key of what the app page says after a button, by `?done=`. */
const doneNotices = new Map<string, string>([
  ['identified', 'done_identified'],
  ['cancelled', 'done_cancelled'],
  ['failed', 'done_failed'],
  ['fault', 'done_fault'],
] satisfies [Done, string][]);

/** The app's words in every language: se-bankid's locales/, section bankid-simulator. */
const texts = new SimulatorTexts([join(pluginFolder(import.meta.url), '..')], 'bankid-simulator');

/**
 * The plain-HTTP side of the simulator: a JSON API for tests (/control/...) and a page for
 * people (/app), both driving the same order book.
 */
export function controlHandler(book: OrderBook, faults: FaultQueue): RequestListener {
  const approve: Action = (fields) =>
    book.approve(stringField(fields, 'orderRef'), personField(fields), mrtdOption(fields));
  const userCancel: Action = (fields) => book.userCancel(stringField(fields, 'orderRef'));
  const controlActions: Record<string, Action> = {
    scan: (fields) => book.scanQr(stringField(fields, 'qr')),
    open: (fields) => book.openAutoStart(stringField(fields, 'autoStartToken')),
    approve,
    cancel: userCancel,
    'confirm-call': (fields) => book.confirmCall(stringField(fields, 'orderRef')),
    'decline-call': (fields) => book.declineCall(stringField(fields, 'orderRef')),
    expire: (fields) => book.expire(stringField(fields, 'orderRef')),
    fail: (fields) => book.fail(stringField(fields, 'orderRef'), stringField(fields, 'hintCode')),
    fault: (fields) => faults.inject(fields.endpoint, fields.fault, fields.times ?? 1),
  };
  const appActions: Record<string, { act: Action; done?: Done }> = {
    scan: { act: (fields) => book.scanCurrentQr(stringField(fields, 'orderRef')) },
    identify: { act: approve, done: 'identified' },
    cancel: { act: userCancel, done: 'cancelled' },
    'confirm-call': { act: controlActions['confirm-call']! },
    'decline-call': { act: controlActions['decline-call']!, done: 'cancelled' },
    expire: { act: controlActions.expire!, done: 'failed' },
    fail: { act: (fields) => book.fail(stringField(fields, 'orderRef'), choiceField(fields, 'hintCode', failedHintCodes)), done: 'failed' },
    fault: { act: injectChosenFault, done: 'fault' },
  };

  /** The page's fault form: an error code BankID has, its own status, for a number of requests. */
  function injectChosenFault(fields: JsonObject): void {
    const errorCode = choiceField(fields, 'errorCode', Object.keys(apiErrorStatus));
    const times = Number(fields.times ?? 1);
    if (times > MAX_FAULT_TIMES) throw new SimulatorError(`times must be at most ${MAX_FAULT_TIMES}`);
    faults.inject(fields.endpoint, { status: apiErrorStatus[errorCode], errorCode, details: 'Chosen on the simulated app page' }, times);
  }

  const appPage = (language: PageLanguage, options: AppPageOptions = {}, status = 200): Reply =>
    html(renderAppPage(book.views(), language, options), status);
  const appRefusal = (language: PageLanguage) => (message: string) => appPage(language, { notice: { text: message, problem: true } }, 400);

  const routes = new Map<string, Route>([
    ['GET /control/orders', () => json(200, book.views())],
    ['GET /control/cancelled', () => json(200, book.cancelledViews())],
    ['GET /app', ({ url, language }) => openOrShowApp(url, language)],
    [`GET ${APP_FAULTS_PATH}`, ({ language }) => html(renderFaultPage(language))],
    [`GET ${APP_STYLESHEET_PATH}`, () => ({ status: 200, contentType: 'text/css; charset=utf-8', body: APP_STYLESHEET })],
    ...Object.entries(controlActions).map(([name, act]): [string, Route] => [
      `POST /control/${name}`,
      ({ body }) => refusedAs((message) => json(400, { error: message }), () => {
        act(jsonFields(body));
        return json(200, {});
      }),
    ]),
    ...Object.entries(appActions).map(([name, { act, done }]): [string, Route] => [
      `POST /app/${name}`,
      ({ body, language }) => refusedAs(appRefusal(language), () => {
        const fields = Object.fromEntries(new URLSearchParams(body));
        act(fields);
        return redirect(done ? `/app?${new URLSearchParams({ done, ...(fields.orderRef ? { orderRef: fields.orderRef } : {}) })}` : '/app');
      }),
    ]),
  ]);

  /**
   * `?autostarttoken=` is the launch link: the phone opens that order, as BankID's app would.
   * `?done=` follows a button; when it ended an order started on this device, the app sends
   * the person back to the order's returnUrl.
   */
  function openOrShowApp(url: URL, language: PageLanguage): Reply {
    const autoStartToken = url.searchParams.get('autostarttoken');
    if (autoStartToken === null) {
      const done = doneNotices.get(url.searchParams.get('done') ?? '');
      const orderRef = url.searchParams.get('orderRef');
      const returnUrl = done && orderRef ? book.returnUrlAfter(orderRef) : undefined;
      return appPage(language, { ...(done ? { notice: { text: language.t(done) } } : {}), ...(returnUrl ? { returnUrl } : {}) });
    }
    return refusedAs(appRefusal(language), () => {
      book.openAutoStart(autoStartToken);
      return redirect('/app');
    });
  }

  return simulatorListener(({ method, url, body, language }) => {
    const route = routes.get(`${method} ${url.pathname}`);
    return route ? route({ url, body, language: pageLanguage(url, language) }) : json(404, { error: `No ${method} ${url.pathname}` });
  });
}

/**
 * The language of a page of the app, its links showing the page again in another language: the
 * fault form itself, else the app (a page drawn for a button's post, too).
 */
function pageLanguage(url: URL, asked: LanguageAsked): PageLanguage {
  const path = url.pathname === APP_FAULTS_PATH ? APP_FAULTS_PATH : '/app';
  return texts.pageLanguage(asked, (locale) => `${path}?lang=${locale}`);
}

/** Runs a route, turning the simulator's refusal into the reply made by `refusal`. */
function refusedAs(refusal: (message: string) => Reply, run: () => Reply): Reply {
  try {
    return run();
  } catch (error) {
    if (error instanceof SimulatorError) return refusal(error.message);
    throw error;
  }
}

function jsonFields(body: string): JsonObject {
  const fields = parseJson(body);
  if (!isJsonObject(fields)) throw new SimulatorError('The body must be a JSON object');
  return fields;
}

function stringField(fields: JsonObject, name: string): string {
  const value = fields[name];
  if (typeof value !== 'string' || value === '') throw new SimulatorError(`${name} must be a non-empty string`);
  return value;
}

/** A field that must be one of the keys of `choices`. */
function choiceField(fields: JsonObject, name: string, choices: readonly string[]): string {
  const value = stringField(fields, name);
  if (!choices.includes(value)) throw new SimulatorError(`${name} must be one of ${choices.join(', ')}`);
  return value;
}

function personField(fields: JsonObject): number | string | undefined {
  const { person } = fields;
  if (person === undefined || typeof person === 'number' || typeof person === 'string') return person;
  throw new SimulatorError('person must be an index into the test persons or a personal number');
}

function mrtdOption(fields: JsonObject): { mrtd?: boolean } {
  const { mrtd } = fields;
  if (mrtd === undefined) return {};
  if (typeof mrtd !== 'boolean') throw new SimulatorError('mrtd must be true or false');
  return { mrtd };
}
