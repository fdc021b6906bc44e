import type Router from '@koa/router';
import type { RouterContext } from '@koa/router';
import type { LoginState, PageRenderer } from '../../src/eids/sdk.js';
import { acrValues, type BankIdLogin } from './flow.js';
import { appPageRoutes, deviceChoices, deviceOfAcr, isMobile } from '../shared/app-page.js';
import { operationOf, shownTransaction } from './transactions.js';

/**
 * The BankID page under /interaction/<uid>/se-bankid/: the device question (unless the acr
 * value answers it), the animated QR code, the open-BankID button and the status messages.
 * The page's script drives the frontend JSON API, like any custom frontend would.
 */
export function bankIdRoutes(
  router: Router<LoginState>,
  login: BankIdLogin,
  views: PageRenderer,
  id: string,
  /** The QR code's settings (`eids.<id>.qr_size`, `show_qr_help`). */
  qr: { qr_size: number; show_qr_help: boolean },
  /** In simulator mode the page links to the simulated app, so a newcomer knows where to play the person. */
  simulatedAppUrl?: string,
): void {
  /** The device question (see deviceChoices for the buttons' order); the person may switch later on. */
  const page = (ctx: RouterContext<LoginState>) => {
    const { request, uid } = ctx.state.login;
    const t = views.translator(request.locale);
    const mobile = isMobile(request.userAgent);
    const device = deviceOfAcr(acrValues, request.acr) ?? '';
    const choices = deviceChoices(request, { this: t(`${id}.${mobile ? 'this' : 'this_computer'}`), other: t(`${id}.other`) });
    const question = t(`${id}.${mobile ? 'RFA20' : 'RFA19'}`);
    // A signature or a payment has its own title: the person must see what they are about to do.
    const operation = operationOf(request.authorizationDetails);
    const title = t(operation ? `${id}.${operation}.title` : `${id}.title`);
    const transaction = shownTransaction(request.authorizationDetails);
    views.render(ctx, `@${id}/login`, { uid, eid: id, device, mobile, choices, question, simulatedAppUrl, title, transaction, qr });
  };

  appPageRoutes(router, page, (request) => login.returnNonce(request), 'This return link does not belong to the BankID login in progress.');
}
