import { isMobile } from '../shared/app-page.js';

/**
 * The link that starts BankID on this device: phones and tablets open BankID through
 * app.bankid.com, computers through the bankid: scheme. `redirect=null`: the way back is the returnUrl
 * sent with the order, which BankID prefers over the launch link's redirect. In simulator mode
 * the link opens the simulated app instead.
 */
export function launchUrl(autoStartToken: string, userAgent: string, simulatedAppUrl?: string): string {
  const token = encodeURIComponent(autoStartToken);
  if (simulatedAppUrl) return `${simulatedAppUrl}?autostarttoken=${token}`;
  return isMobile(userAgent)
    ? `https://app.bankid.com/?autostarttoken=${token}&redirect=null`
    : `bankid:///?autostarttoken=${token}&redirect=null`;
}
