import { isIPv6 } from 'node:net';

/**
 * An address as some proxies write it in X-Forwarded-For, with the port it came from (Azure
 * Application Gateway: `203.0.113.7:51234`, `[2001:db8::7]:51234`): the address, in group 1 or 2.
 */
const WITH_PORT = /^(?:(\d{1,3}(?:\.\d{1,3}){3})|\[([\da-fA-F:.]+)\])(?::\d{1,5})?$/;

/**
 * The person's address as the broker reports it (audit events, eIDs such as BankID's endUserIp):
 * the request's address through trusted proxies only (Koa's `ctx.ip` with `trust_proxy`), without
 * a port a proxy wrote with it (a new one with each connection, which taken as part of the
 * address gave each connection a rate limit of its own), an IPv4 address mapped into IPv6 written
 * as IPv4.
 */
export function clientIp(ctx: { ip: string }): string {
  const ported = WITH_PORT.exec(ctx.ip);
  const address = ported ? (ported[1] ?? ported[2]!) : ctx.ip;
  return address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
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
