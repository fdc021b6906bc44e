import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { knownBrowserId } from '../http/browser-id.js';
import { storeKey } from '../store/keys.js';
import type { Store } from '../store/store.js';

/**
 * One session for a browser whose first logins end at the same moment (two tabs).
 *
 * oidc-provider makes a browser's session at the end of its first login, and knows the browser
 * only by that session's cookie. Logins begun before either ended come back without it, and each
 * would make a session of its own: the browser keeps the cookie of one, and the other's client is
 * in no session it holds (its logout, back-channel and front-channel logout miss it).
 *
 * Every login has given the browser its id (neb_browser, when its eID started) by the time it
 * comes back. A login that comes back without a session makes one as oidc-provider does, but
 * with the uid that the first such login of that browser took: the sessions are then versions of
 * one session, and the adapter joins them (adapter.ts). The uid is offered for a minute only,
 * long enough for logins that end together: a browser id someone planted in another's browser
 * links nothing of theirs after it.
 */

/** How long the first login's uid is offered to the logins ending with it, in seconds. */
const UID_OFFERED_SECONDS = 60;

type Session = InstanceType<Provider['Session']>;

/** The uid the first login of `browser` to come back without a session took: `uid` when this is that login. */
async function firstUid(store: Store, browser: string, uid: string): Promise<string> {
  const key = storeKey('browserFirstSession', browser);
  if (await store.setIfAbsent(key, uid, UID_OFFERED_SECONDS)) return uid;
  return (await store.get(key))?.value ?? uid;
}

/**
 * A session that a login's return (oidc-provider's resume) found in no store — the browser had
 * none, or one that ended — takes its browser's first uid, before anything is issued under it.
 */
export function browserSessions(provider: Provider, store: Store): void {
  const { Session } = provider;
  const get = Session.get.bind(Session);
  Session.get = async function getSession(ctx: KoaContextWithOIDC): Promise<Session> {
    const session = await get(ctx);
    const browser = ctx.oidc?.route === 'resume' && session.exp === undefined ? knownBrowserId(ctx) : undefined;
    if (browser) session.uid = await firstUid(store, browser, session.uid);
    return session;
  } as typeof Session.get;
}
