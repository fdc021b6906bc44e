import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Views } from '../http/views.js';
import type { AfterEndpoint } from './after-endpoints.js';
import { LOGOUT_LANGUAGE } from './logout-language.js';

/**
 * oidc-provider answers with a page of its own that posts a form by itself: a response to a
 * client that asked for `response_mode=form_post`, and a logout asked for without a login to end.
 * That page is in English whatever the person's language, has no `lang`, no heading and a title
 * a screen reader reads out ("Submitting Callback"), and without JavaScript it leaves the person
 * before a bare English sentence. It becomes the broker's own page in the person's language: the
 * same form, posted by a script from the broker's origin (no inline script), and a Continue
 * button in plain words for a browser without JavaScript.
 */

/** oidc-provider's form page, as it writes it (response_modes/form_post.js). */
const FORM_POST_TITLE = '<title>Submitting Callback</title>';
const FORM = /<form method="post" action="([^"]*)">/;
const HIDDEN_INPUT = /<input type="hidden" name="([^"]*)" value="([^"]*)"\/>/g;

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };
const unescapeHtml = (text: string) => text.replace(/&(?:amp|lt|gt|quot|#39);/g, (entity) => ENTITIES[entity]!);

/** The form on oidc-provider's form page: where it posts and its fields; undefined for any other body. */
export function formOfFormPostPage(body: unknown): { action: string; fields: Array<[string, string]> } | undefined {
  if (typeof body !== 'string' || !body.includes(FORM_POST_TITLE)) return undefined;
  const action = FORM.exec(body)?.[1];
  if (action === undefined) return undefined;
  const fields = [...body.matchAll(HIDDEN_INPUT)].map(([, name = '', value = '']): [string, string] => [unescapeHtml(name), unescapeHtml(value)]);
  return { action: unescapeHtml(action), fields };
}

/**
 * The fields the broker's page posts: oidc-provider's, and for a logout without a login to end
 * (whose confirmation this page posts at once) the language of the logout's pages, as the
 * confirmation form posts it (logout-language.ts).
 */
function fieldsToPost(ctx: KoaContextWithOIDC, views: Views, fields: Array<[string, string]>): Array<[string, string]> {
  return ctx.oidc.route === 'end_session' ? [...fields, [LOGOUT_LANGUAGE, views.localeOf(ctx)]] : fields;
}

/** Turns oidc-provider's form page into the broker's, at the endpoints that answer with one. */
export function ownFormPostPage(views: Views): AfterEndpoint {
  return {
    routes: ['authorization', 'resume', 'end_session'],
    after(ctx) {
      const form = formOfFormPostPage(ctx.body);
      if (!form) return;
      const status = ctx.status;
      // A page on its way elsewhere: language links would ask the authorization or logout again.
      views.render(ctx, 'form-post', { ...form, fields: fieldsToPost(ctx, views, form.fields), languageLinks: false });
      ctx.status = status;
    },
  };
}
