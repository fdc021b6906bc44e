/**
 * Text a client writes and a person reads — a client's name on the broker's pages, a
 * binding_message or a text to sign in the eID's app — must read as it is written, and reach the
 * person as it was sent: what the tokens say was shown or signed is what the person saw. Refused
 * in it, class by class:
 * - control characters (a text of several lines keeps its line breaks and tabs);
 * - lone surrogates, which UTF-8 cannot carry: the eID would be sent U+FFFD where the client's
 *   copy, and the tokens that echo it, hold something else;
 * - the bidirectional marks, embeddings, overrides and isolates that make text display in another
 *   order than it is written ("100 SEK" reading "KES 001"), for instance from a name someone else
 *   typed into a relying party's otherwise honest text;
 * - LINE SEPARATOR and PARAGRAPH SEPARATOR (U+2028, U+2029): a line break that some displays make
 *   and others show as a space or nothing, so that two lines of a text to sign may read as one
 *   (a line break is CR, LF or CRLF);
 * - characters that show nothing and change nothing a person reads, so that all they can carry is
 *   what the person does not see — a second text spelled in them inside the signed one, or a name
 *   that looks like another's: the zero-width space (U+200B), the word joiner and the invisible
 *   mathematical operators (U+2060–U+2064), the deprecated format characters (U+206A–U+206F), the
 *   byte order mark (U+FEFF), the interlinear annotation marks that hide a text or show it as a
 *   note (U+FFF9–U+FFFB) and the tag characters (U+E0000–U+E007F).
 * Kept, because they change how a text is drawn and are part of writing it: the zero-width
 * non-joiner and joiner (U+200C, U+200D: emoji sequences, Persian and Indic scripts), the soft
 * hyphen (U+00AD: a hyphen where a long word breaks) and the format characters of particular
 * scripts (Arabic number signs and the like), which show.
 */
const UNSHOWABLE = /[\p{Cc}\p{Cs}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\p{Zl}\p{Zp}\u200b\u2060-\u2064\u206a-\u206f\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}]/u;

/** The layout a text of several lines may hold: line breaks (CR, LF, CRLF, as BankID lays them out) and tabs. */
const LAYOUT = /[\t\n\r]/g;

/** A character a person can see: not white space, nor an invisible format character (a zero-width space or joiner…). */
const VISIBLE = /[^\s\p{Cf}]/u;

/** Whether `text` shows nothing at all: a text of spaces or zero-width characters reads as an empty one. */
export function isBlank(text: string): boolean {
  return !VISIBLE.test(text);
}

/** Why a text is not showable, worded as a validation message. */
export const UNSHOWABLE_TEXT =
  'must not contain control characters, lone surrogates, bidirectional formatting marks, line or paragraph separators (U+2028, U+2029) or invisible characters such as U+200B, U+2060 or U+FEFF';

/** Whether `text` reads as it is written; `lines`: it may hold line breaks and tabs. */
export function isShowable(text: string, { lines = false }: { lines?: boolean } = {}): boolean {
  return !UNSHOWABLE.test(lines ? text.replace(LAYOUT, '') : text);
}
