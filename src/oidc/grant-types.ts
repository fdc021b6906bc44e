/**
 * The grant type of OpenID Connect CIBA (Core §10.1), with which a client polls for the tokens of
 * a backchannel request. A module that imports nothing: the admin API's schema of a client
 * (clients/metadata.ts) lists it as it loads, while the CIBA module's own imports lead back to the
 * client modules. Declared there, the bundle ran that schema before the name was set, and its
 * list of grants held `undefined` instead.
 */
export const CIBA_GRANT_TYPE = 'urn:openid:params:grant-type:ciba';
