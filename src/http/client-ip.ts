import { isIPv6 } from 'node:net';

/**
 * The person's address as the broker reports it (audit events, eIDs such as BankID's endUserIp):
 * the request's address through trusted proxies only (Koa's `ctx.ip` with `trust_proxy`), an
 * IPv4 address mapped into IPv6 written as IPv4.
 */
export function clientIp(ctx: { ip: string }): string {
  return ctx.ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

/**
 * The address limits count by (rate limits, connections per address). IPv6 counts by its /64:
 * one subscriber usually holds a whole /64, and could otherwise step around the limit by
 * changing its address.
 */
export function clientAddress(ip: string): string {
  const address = clientIp({ ip });
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((group) => group.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
