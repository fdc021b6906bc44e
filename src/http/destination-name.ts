/** The schemes whose host is where a link leads: any other is an app's. */
const WEB_SCHEMES: ReadonlySet<string> = new Set(['https:', 'http:']);

/**
 * The destination as the page names it: its host (with a port other than the scheme's), which
 * URL gives in ASCII (an internationalised name as xn--…, so no look-alike letters pass for
 * another's); a native app's private-use scheme by that scheme, since the app that registered it
 * is what opens, whatever host follows it (com.example.app://bank.example/ leads to the app, not
 * to bank.example, which a page naming the host would have the person trust).
 */
export function destinationName(destination: URL): string {
  return WEB_SCHEMES.has(destination.protocol) ? destination.host : destination.protocol.slice(0, -1);
}
