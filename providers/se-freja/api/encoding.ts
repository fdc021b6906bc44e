/**
 * Freja's request encoding: the body is `<parameter>=<Base64 of the UTF-8 JSON>`. The broker
 * sends it as Freja's own client does — standard Base64 (with `+`, `/` and `=`), not URL-encoded.
 */
export function encodeRequest(parameter: string, body: object, relyingPartyId?: string): string {
  const encoded = `${parameter}=${Buffer.from(JSON.stringify(body), 'utf8').toString('base64')}`;
  return relyingPartyId ? `${encoded}&relyingPartyId=${encodeURIComponent(relyingPartyId)}` : encoded;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The JSON a request body carries in `parameter`, read as strictly as Freja reads it: exactly
 * that parameter (and optionally relyingPartyId), `%XX` decoded but `+` kept as it is (the
 * official client sends raw Base64), strict Base64, then strict JSON. Undefined when any of it
 * does not hold.
 */
export function decodeRequest(parameter: string, text: string): { body: unknown; relyingPartyId?: string } | undefined {
  const fields = new Map<string, string>();
  for (const pair of text.split('&')) {
    const equals = pair.indexOf('=');
    if (equals <= 0) return undefined;
    const name = pair.slice(0, equals);
    if (fields.has(name)) return undefined;
    try {
      fields.set(name, decodeURIComponent(pair.slice(equals + 1)));
    } catch {
      return undefined;
    }
  }
  const encoded = fields.get(parameter);
  const relyingPartyId = fields.get('relyingPartyId');
  if (encoded === undefined || fields.size !== (relyingPartyId === undefined ? 1 : 2) || !BASE64.test(encoded)) return undefined;
  try {
    const body: unknown = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
    return relyingPartyId === undefined ? { body } : { body, relyingPartyId };
  } catch {
    return undefined;
  }
}
