import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Views } from '../http/views.js';
import { contentSecurityPolicy } from '../http/security-headers.js';
import type { AfterEndpoint } from './after-endpoints.js';
import { confirmsLogout } from './logout-confirmation.js';

/**
 * OpenID Connect Front-Channel Logout 1.0, which oidc-provider dropped in 7.0. When the person
 * confirms a logout that ends their broker session, the 303 oidc-provider answers with becomes a
 * page that loads each logged-in client's `frontchannel_logout_uri` in a hidden iframe (with
 * `iss` and `sid` for clients that ask for them), then goes on to where the 303 pointed. The page
 * has no inline script, and its CSP lets it frame exactly those URIs and nothing else.
 *
 * Browsers that block third-party cookies may keep a client's page from finding its session:
 * front-channel logout is best effort, which is why back-channel logout exists.
 */

/** One client's logout page, as the iframe loads it and as the CSP names it. */
export interface LogoutFrame {
  src: string;
  cspSource: string;
}

/** A CSP source expression for exactly this URI's scheme, host, port and path (CSP ignores the query). */
export function cspSourceOf(url: URL): string {
  // `;` and `,` separate directives and policies; percent-encoded they still match the path.
  return `${url.origin}${url.pathname.replaceAll(';', '%3B').replaceAll(',', '%2C')}`;
}

type Session = NonNullable<KoaContextWithOIDC['oidc']['session']>;

async function framesOf(provider: Provider, session: Session): Promise<LogoutFrame[]> {
  const frames: LogoutFrame[] = [];
  for (const clientId of Object.keys(session.authorizations ?? {})) {
    const client = await provider.Client.find(clientId);
    const uri = client?.['frontchannel_logout_uri'];
    if (typeof uri !== 'string') continue;
    const url = new URL(uri);
    if (client!['frontchannel_logout_session_required'] === true) {
      url.searchParams.set('iss', provider.issuer);
      url.searchParams.set('sid', session.sidFor(clientId) as string);
    }
    frames.push({ src: url.href, cspSource: cspSourceOf(url) });
  }
  return frames;
}

/** ID tokens carry `sid` for clients whose front-channel page needs it; oidc-provider only knows back-channel's flag. */
function includeSidForFrontChannel(provider: Provider): void {
  const { prototype } = provider.Client;
  const includeSid = prototype.includeSid;
  prototype.includeSid = function includeSidOrFrontChannel(this: InstanceType<Provider['Client']>) {
    return Boolean(includeSid.call(this)) || this['frontchannel_logout_session_required'] === true;
  };
}

/**
 * Sets oidc-provider up for front-channel logout and returns the step that turns a confirmed
 * logout's 303 into the page of frames. Only a confirmed logout (logout=yes) ends the broker
 * session, and so every client's.
 */
export function frontChannelLogout(provider: Provider, views: Views): AfterEndpoint {
  includeSidForFrontChannel(provider);
  return {
    routes: ['end_session_confirm'],
    async after(ctx) {
      if (!confirmsLogout(ctx)) return;
      const frames = await framesOf(provider, ctx.oidc.session!);
      if (!frames.length) return;
      const continueTo = ctx.response.get('location');
      ctx.remove('location');
      ctx.status = 200;
      ctx.set('Content-Security-Policy', contentSecurityPolicy({ 'frame-src': frames.map((frame) => frame.cspSource) }));
      views.render(ctx, 'frontchannel-logout', { frames, continueTo });
    },
  };
}
