import { describe, expect, it } from 'vitest';
import { newClientId } from '../../src/clients/metadata.js';

describe('a client_id the broker chooses', () => {
  it('is 16 URL-safe characters that never start like a command-line option', () => {
    // One id in 32 would start with - or _: among 2,000, some certainly would.
    const ids = Array.from({ length: 2000 }, newClientId);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{15}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
