import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Store } from '../store/store.js';
import { storeKey } from '../store/keys.js';
import type { KeyNames } from '../store/key-names.js';
import type { AfterEndpoint } from '../oidc/after-endpoints.js';

/** The registration policy every initial access token the admin API issues carries. */
export const COUNTED_USES_POLICY = 'counted_uses';

/** The longest an initial access token the admin API issues lives, in seconds: 30 days. */
export const INITIAL_ACCESS_TOKEN_MAX_SECONDS = 30 * 24 * 3600;


/** A use of a token that a registration under way holds: given back should the registration fail. */
interface HeldUse {
  token: InstanceType<Provider['InitialAccessToken']>;
  secondsLeft: number;
  /** The token's last use: the registration that succeeds with it destroys the token. */
  last: boolean;
}

/**
 * Initial access tokens for dynamic registration, each good for a number of registrations
 * (one by default) until it expires. oidc-provider lets a token register any number of
 * clients; the count is kept beside it in the store and checked by a registration policy,
 * atomically, so parallel registrations cannot use a token more often than allowed.
 *
 * The policy runs before oidc-provider checks the client's metadata, so it holds a use rather
 * than spending it: a registration that fails (metadata refused, the store away) gives its use
 * back once answered, so the corrected one gets through; the one that succeeds with the last
 * use destroys the token. Meanwhile a held use counts, so parallel registrations never get more
 * than the token allows.
 */
export class InitialAccessTokens {
  readonly #store: Store;
  readonly #names: KeyNames;
  /** The registrations under way that hold a use, by request. */
  readonly #held = new WeakMap<object, HeldUse>();

  /** `names` hashes each token's value (its jti) in the keys of its count: the token is a credential. */
  constructor(store: Store, names: KeyNames) {
    this.#store = store;
    this.#names = names;
  }

  #maxUsesKey(jti: string): string {
    return storeKey('initialAccessTokenMaxUses', this.#names.of(jti));
  }

  #usesKey(jti: string): string {
    return storeKey('initialAccessTokenUses', this.#names.of(jti));
  }

  /** Issues a token good for `maxUses` registrations within `expiresIn` seconds; returns its value. */
  async issue(provider: Provider, { expiresIn, maxUses }: { expiresIn: number; maxUses: number }): Promise<string> {
    const token = new provider.InitialAccessToken({ expiresIn, policies: [COUNTED_USES_POLICY] });
    const value = await token.save();
    // Written after the token: should this write fail, the token counts as used up, never as unlimited.
    await this.#store.set(this.#maxUsesKey(token.jti), String(maxUses), expiresIn);
    return value;
  }

  /** The registration policy: holds a use of the token, or refuses one too many. */
  readonly countUse = async (ctx: KoaContextWithOIDC): Promise<void> => {
    const token = ctx.oidc.entities.InitialAccessToken;
    // Registration management inherits the policy; only a registration uses the token.
    if (!token) return;
    const allowed = Number((await this.#store.get(this.#maxUsesKey(token.jti)))?.value ?? 0);
    const secondsLeft = Math.max(1, (token.exp ?? 0) - Math.floor(Date.now() / 1000));
    const { count } = await this.#store.increment(this.#usesKey(token.jti), secondsLeft);
    if (count > allowed) {
      await this.#giveBack(token.jti, secondsLeft);
      throw new errors.InvalidToken('the initial access token has been used up');
    }
    this.#held.set(ctx, { token, secondsLeft, last: count === allowed });
  };

  /** Once the registration endpoint has answered: a use held by a failed registration goes back; the last one spent destroys the token. */
  afterRegistration(): AfterEndpoint {
    return {
      routes: ['registration'],
      after: async (ctx) => {
        const held = this.#held.get(ctx);
        if (!held) return;
        this.#held.delete(ctx);
        if (ctx.status !== 201) await this.#giveBack(held.token.jti, held.secondsLeft);
        else if (held.last) await held.token.destroy();
      },
    };
  }

  #giveBack(jti: string, secondsLeft: number): Promise<unknown> {
    return this.#store.increment(this.#usesKey(jti), secondsLeft, -1);
  }
}
