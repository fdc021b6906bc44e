/**
 * The person's address as the broker reports it (audit events, eIDs such as BankID's endUserIp):
 * the request's address through trusted proxies only (Koa's `ctx.ip` with `trust_proxy`), an
 * IPv4 address mapped into IPv6 written as IPv4.
 */
export function clientIp(ctx: { ip: string }): string {
  return ctx.ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}
