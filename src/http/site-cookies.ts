import type { Context } from 'koa';

/**
 * The name the browser keeps one of the broker's own whole-site cookies under (path /, not in
 * oidc-provider's hands): over https with the `__Host-` prefix, which a browser takes only from
 * this very host, Secure, with path / and no Domain. Without it, a page on a sibling subdomain
 * (another of the operator's apps, or one taken over) could set a cookie of that name for the
 * whole domain: a browser id, a language or a remembered choice that someone else was given by
 * the broker, signature and all. Plain http (a machine of one's own) cannot have the prefix.
 */
export function siteCookieName(ctx: Context, name: string): string {
  return ctx.secure ? `__Host-${name}` : name;
}
