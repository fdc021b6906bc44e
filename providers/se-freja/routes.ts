import type { LoginState, PageRenderer } from '../../src/eids/sdk.js';
import type Router from '@koa/router';
import type { RouterContext } from '@koa/router';
import { appPageRoutes, deviceChoices } from '../shared/app-page.js';
import { deviceOf, type FrejaLogin } from './flow.js';

/**
 * The Freja eID page under /interaction/<uid>/se-freja/: the device question (unless the acr
 * value answers it), the QR code, the open-Freja button and the status. Its script drives the
 * frontend JSON API, like any custom frontend.
 */
export function frejaRoutes(
  router: Router<LoginState>,
  login: FrejaLogin,
  views: PageRenderer,
  id: string,
  /** The QR code's settings (`eids.<id>.qr_size`, `show_qr_help`). */
  qr: { qr_size: number; show_qr_help: boolean },
  simulatedAppUrl?: string,
): void {
  const page = (ctx: RouterContext<LoginState>) => {
    const { request, uid } = ctx.state.login;
    const t = views.translator(request.locale);
    const choices = deviceChoices(request, { this: t(`${id}.this`), other: t(`${id}.other`) });
    views.render(ctx, `@${id}/login`, { uid, eid: id, device: deviceOf(request.acr) ?? '', choices, question: t(`${id}.choose`), simulatedAppUrl, qr });
  };

  appPageRoutes(router, page, (request) => login.returnNonce(request), 'This return link does not belong to the Freja eID login in progress.');
}
