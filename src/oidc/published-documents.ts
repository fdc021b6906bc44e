import type { AfterEndpoint } from './after-endpoints.js';

/**
 * How long a relying party, or a cache between it and the broker, may keep the discovery
 * document and the JWKS, in seconds. Without a Cache-Control they are fetched again at every
 * use by libraries that follow HTTP caching, and kept for however long by those that guess.
 * Five minutes is far inside the day that a signing key's rotation (README, "Rotating the signing
 * keys") leaves between publishing a new key and signing with it, and a library that meets a
 * kid it does not know fetches the JWKS again anyway. Both documents name only the issuer
 * (issuer-origin.ts), so a shared cache keeps the same copy for everyone.
 */
export const PUBLISHED_DOCUMENT_MAX_AGE_SECONDS = 300;

/** Cache-Control on the discovery document and the JWKS, when they answered with themselves. */
export function publishedDocumentCaching(): AfterEndpoint {
  return {
    routes: ['discovery', 'jwks'],
    after(ctx) {
      if (ctx.status === 200) ctx.set('Cache-Control', `public, max-age=${PUBLISHED_DOCUMENT_MAX_AGE_SECONDS}`);
    },
  };
}
