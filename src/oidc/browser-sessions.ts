import { randomBytes } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { storeKey } from '../store/keys.js';
import type { Store } from '../store/store.js';
import type { AfterEndpoint } from './after-endpoints.js';

/**
 * One session for a browser whose first logins end at the same moment (two tabs).
 *
 * oidc-provider makes a browser's session at the end of its first login, and knows the browser
 * only by that session's cookie. Two logins begun before either ended come back without it, and
 * each would make a session of its own: the browser keeps the cookie of one, and the other's
 * client is in no session it holds (its logout, back-channel and front-channel logout miss it).
 *
 * So an authorization request from a browser without a session cookie gives it one, naming no
 * session yet: an id that is only a mark of the browser, at no cost in the store. A login that
 * comes back with such a cookie makes its session as oidc-provider would, under a fresh id, but
 * with the uid the first login of that browser took: both sessions are then versions of one
 * session, and the adapter joins them into the later one (adapter.ts). The mark binds the uid
 * for a minute only: long enough for logins that end together, and a mark that someone else
 * planted in the browser links nothing of theirs once that minute is over.
 */

/** Marks begin so; oidc-provider's own session ids (nanoids) never hold a dot. */
const MARK_PREFIX = 'first.';
/** How long the first login's uid is offered to the logins ending with it, in seconds. */
const UID_OFFERED_SECONDS = 60;

type Session = InstanceType<Provider['Session']>;
/** What oidc-provider's Session model has and its types leave out. */
interface SessionModel {
  instantiate(): Session;
}
interface SessionState {
  /** Made by this request, not read from the store. */
  new?: boolean;
  /** To be saved at the end of this request. */
  touched?: boolean;
}
type CookieOptions = Parameters<KoaContextWithOIDC['cookies']['set']>[2];

function markOf(ctx: KoaContextWithOIDC, cookieName: string, cookieOptions: CookieOptions): string | undefined {
  const value = ctx.oidc?.cookies.get(cookieName, cookieOptions);
  return value?.startsWith(MARK_PREFIX) ? value : undefined;
}

/**
 * A session read for a browser that holds a mark is a new one, as for a browser without a
 * cookie, and not looked for in the store (nothing is there). At a login's return it takes the
 * uid that the browser's first login to return took, before anything is issued under it.
 */
function newSessionsForMarks(provider: Provider, store: Store, cookieName: string, cookieOptions: CookieOptions): void {
  const { Session } = provider;
  const get = Session.get.bind(Session);
  Session.get = async function getSession(ctx: KoaContextWithOIDC) {
    const mark = markOf(ctx, cookieName, cookieOptions);
    if (!mark) return get(ctx);
    const session = (Session as unknown as SessionModel).instantiate();
    if (ctx.oidc.route === 'resume') session.uid = await firstUid(store, mark, session.uid);
    ctx.oidc.entity('Session', session);
    return session;
  } as typeof Session.get;
}

/** The uid the first login to return with `mark` took: `uid` when this is that login. */
async function firstUid(store: Store, mark: string, uid: string): Promise<string> {
  const key = storeKey('browserFirstSession', mark);
  if (await store.setIfAbsent(key, uid, UID_OFFERED_SECONDS)) return uid;
  return (await store.get(key))?.value ?? uid;
}

/** Gives a browser that comes without a session cookie a mark, unless its request made a session. */
function markBrowsers(cookieName: string, cookieOptions: CookieOptions): AfterEndpoint {
  return {
    routes: ['authorization'],
    after(ctx) {
      const session = ctx.oidc.session as SessionState | undefined;
      if (ctx.oidc.cookies.get(cookieName, cookieOptions) || !session?.new || session.touched) return;
      ctx.oidc.cookies.set(cookieName, MARK_PREFIX + randomBytes(24).toString('base64url'), cookieOptions);
    },
  };
}

/** Makes the first logins of one browser one session; returns the step that marks browsers. */
export function browserSessions(provider: Provider, store: Store, cookieOptions: CookieOptions): AfterEndpoint {
  const cookieName = provider.cookieName('session');
  newSessionsForMarks(provider, store, cookieName, cookieOptions);
  return markBrowsers(cookieName, cookieOptions);
}
