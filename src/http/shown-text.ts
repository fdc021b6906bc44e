/**
 * Text a client writes and a person reads — a client's name on the broker's pages, a
 * binding_message or a text to sign in the eID's app — must read as it is written, and reach the
 * person as it was sent. Refused in it:
 * - control characters (a text of several lines keeps its line breaks and tabs);
 * - lone surrogates, which UTF-8 cannot carry: the eID would be sent U+FFFD where the client's
 *   copy, and the tokens that echo it, hold something else;
 * - the bidirectional marks, embeddings, overrides and isolates that make text display in another
 *   order than it is written ("100 SEK" reading "KES 001"), for instance from a name someone else
 *   typed into a relying party's otherwise honest text.
 */
const UNSHOWABLE = /[\p{Cc}\p{Cs}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/** The layout a text of several lines may hold: line breaks (CR, LF, CRLF, as BankID lays them out) and tabs. */
const LAYOUT = /[\t\n\r]/g;

/** A character a person can see: not white space, nor an invisible format character (a zero-width space or joiner…). */
const VISIBLE = /[^\s\p{Cf}]/u;

/** Whether `text` shows nothing at all: a text of spaces or zero-width characters reads as an empty one. */
export function isBlank(text: string): boolean {
  return !VISIBLE.test(text);
}

/** Why a text is not showable, worded as a validation message. */
export const UNSHOWABLE_TEXT = 'must not contain control characters, lone surrogates or bidirectional formatting marks';

/** Whether `text` reads as it is written; `lines`: it may hold line breaks and tabs. */
export function isShowable(text: string, { lines = false }: { lines?: boolean } = {}): boolean {
  return !UNSHOWABLE.test(lines ? text.replace(LAYOUT, '') : text);
}
