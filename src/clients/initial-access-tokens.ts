import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Store } from '../store/store.js';
import { storeKey } from '../store/keys.js';

/** The registration policy every initial access token the admin API issues carries. */
export const COUNTED_USES_POLICY = 'counted_uses';

const maxUsesKey = (jti: string) => storeKey('initialAccessTokenMaxUses', jti);
const usesKey = (jti: string) => storeKey('initialAccessTokenUses', jti);

/**
 * Initial access tokens for dynamic registration, each good for a number of registrations
 * (one by default) until it expires. oidc-provider lets a token register any number of
 * clients; the count is kept beside it in the store and checked by a registration policy,
 * atomically, so parallel registrations cannot use a token more often than allowed. The
 * registration that uses it up also destroys it.
 */
export class InitialAccessTokens {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /** Issues a token good for `maxUses` registrations within `expiresIn` seconds; returns its value. */
  async issue(provider: Provider, { expiresIn, maxUses }: { expiresIn: number; maxUses: number }): Promise<string> {
    const token = new provider.InitialAccessToken({ expiresIn, policies: [COUNTED_USES_POLICY] });
    const value = await token.save();
    // Written after the token: should this write fail, the token counts as used up, never as unlimited.
    await this.#store.set(maxUsesKey(token.jti), String(maxUses), expiresIn);
    return value;
  }

  /** The registration policy: counts this use, refuses one too many, destroys the token at its last. */
  readonly countUse = async (ctx: KoaContextWithOIDC): Promise<void> => {
    const token = ctx.oidc.entities.InitialAccessToken;
    // Registration management inherits the policy; only a registration uses the token.
    if (!token) return;
    const allowed = Number((await this.#store.get(maxUsesKey(token.jti)))?.value ?? 0);
    const secondsLeft = Math.max(1, (token.exp ?? 0) - Math.floor(Date.now() / 1000));
    const { count } = await this.#store.increment(usesKey(token.jti), secondsLeft);
    if (count > allowed) throw new errors.InvalidToken('the initial access token has been used up');
    if (count === allowed) await token.destroy();
  };
}
