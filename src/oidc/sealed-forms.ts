import { HttpError } from '../http/errors.js';
import { Sealer } from '../store/sealed-store.js';

/** The query parameter of the GET after a POST that carries the POST's form, sealed. */
export const SEALED_FORM = 'sealed_form';

/**
 * How long a sealed form opens, in seconds. The browser follows the 303 at once, and a language
 * link on the page it leads to carries the form again; a copy left in the browser's history, a
 * proxy's or an access log is of no use to anyone soon after.
 */
export const SEALED_FORM_SECONDS = 300;

/** What is sealed: the form, the address it was POSTed to (it opens there only), and until when it opens (epoch seconds). */
interface SealedContents {
  to: string;
  until: number;
  form: string;
}

function isSealedContents(value: unknown): value is SealedContents {
  const contents = value as Partial<SealedContents> | null;
  return typeof contents?.to === 'string' && typeof contents.until === 'number' && typeof contents.form === 'string';
}

function contentsOf(text: string | undefined): SealedContents | undefined {
  if (text === undefined) return undefined;
  try {
    const contents: unknown = JSON.parse(text);
    return isSealedContents(contents) ? contents : undefined;
  } catch {
    return undefined;
  }
}

/** A sealed form that does not open: the person is told to start again at the service, the client why. */
export function sealedFormRefusal(description: string): HttpError {
  return new HttpError(400, 'invalid_request', description, undefined, { during: 'sealed_form' });
}

/**
 * Forms POSTed to the authorization and logout endpoints, sealed for the GET they are sent on to
 * (posted-requests.ts): encrypted and authenticated (AES-256-GCM) under keys derived from the
 * store's encryption secrets for this purpose alone, which every instance shares, so any instance
 * opens what another sealed. Nothing is written: the GET carries everything, which no one can
 * read or alter, and which opens for SEALED_FORM_SECONDS, at the address it was POSTed to only.
 */
export class SealedForms {
  readonly #sealer: Sealer;
  readonly #now: () => number;

  /** `now`: the clock, in milliseconds, from which a sealed form's time runs. */
  constructor(secrets: readonly string[], now: () => number = Date.now) {
    this.#sealer = new Sealer(secrets, 'forms posted to the authorization and logout endpoints');
    this.#now = now;
  }

  /** `form`, POSTed to `to`, sealed. */
  seal(to: string, form: URLSearchParams): string {
    const contents: SealedContents = { to, until: Math.floor(this.#now() / 1000) + SEALED_FORM_SECONDS, form: form.toString() };
    return this.#sealer.seal(JSON.stringify(contents));
  }

  /** The form inside `sealed`, at `to`; refused (sealedFormRefusal) unless this broker sealed it for `to` and its time has not run out. */
  open(to: string, sealed: string): URLSearchParams {
    const contents = contentsOf(this.#sealer.openAuthentic(sealed));
    if (!contents) throw sealedFormRefusal(`${SEALED_FORM} was not sealed by this broker, or was altered since: send the request again.`);
    if (contents.to !== to) throw sealedFormRefusal(`${SEALED_FORM} was sealed for ${contents.to}, not for this address: send the request again.`);
    if (contents.until * 1000 <= this.#now()) {
      throw sealedFormRefusal(`${SEALED_FORM} has expired (it opens for ${SEALED_FORM_SECONDS} seconds after the POST): send the request again.`);
    }
    return new URLSearchParams(contents.form);
  }
}
