#!/usr/bin/env node
// A minimal relying party in Express with openid-client: the authorization code flow with PKCE,
// state and nonce, the ID token and userinfo, and RP-initiated logout.
//
//   npm start                                          # the broker, in another terminal
//   node docs/examples/express-openid-client/app.mjs
//   # open http://127.0.0.1:3001/
//
// The defaults match the client `example-express` that `npm start` registers; ISSUER,
// CLIENT_ID, CLIENT_SECRET and PORT override them.
import { randomBytes } from 'node:crypto';
import express from 'express';
import session from 'express-session';
import * as client from 'openid-client';

const issuer = new URL(process.env.ISSUER ?? 'http://localhost:3000');
const clientId = process.env.CLIENT_ID ?? 'example-express';
const clientSecret = process.env.CLIENT_SECRET ?? 'example-express-secret-for-trying-out-only';
const port = Number(process.env.PORT ?? 3001);
const appUrl = `http://127.0.0.1:${port}`;
const redirectUri = `${appUrl}/callback`;

// Discovery, once. openid-client speaks plain http only when told to: fine on one's own
// machine against `npm start`, never in production.
const config = await client.discovery(issuer, clientId, clientSecret, undefined, issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {});

const escape = (text) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, result) =>
  `<!doctype html><html lang="en"><meta charset="utf-8"><title>${escape(title)}</title><h1>${escape(title)}</h1>` +
  '<p><a href="/login">Log in</a> · <a href="/logout">Log out</a></p>' +
  (result === undefined ? '' : `<pre id="result">${escape(JSON.stringify(result, null, 2))}</pre>`);

const app = express();
// The default in-memory session store (and so a new cookie key at each start) is for trying
// out; use a real store and a kept secret in production.
app.use(session({ secret: randomBytes(32).toString('hex'), resave: false, saveUninitialized: false, cookie: { httpOnly: true, sameSite: 'lax' } }));

app.get('/', (req, res) => {
  res.send(page('Express relying party', req.session.claims ?? { logged_in: false }));
});

app.get('/login', async (req, res) => {
  const flow = { verifier: client.randomPKCECodeVerifier(), state: client.randomState(), nonce: client.randomNonce() };
  req.session.flow = flow;
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile personal_number eid',
    code_challenge: await client.calculatePKCECodeChallenge(flow.verifier),
    code_challenge_method: 'S256',
    state: flow.state,
    nonce: flow.nonce,
  });
  res.redirect(url.href);
});

app.get('/callback', async (req, res) => {
  const flow = req.session.flow;
  delete req.session.flow;
  if (!flow) return res.status(400).send(page('No login in progress', { next: 'start again at /login' }));
  try {
    // Checks state, iss (RFC 9207), the code with the PKCE verifier, and the ID token.
    const tokens = await client.authorizationCodeGrant(config, new URL(req.originalUrl, appUrl), {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    const idToken = tokens.claims();
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, idToken.sub);
    req.session.claims = { id_token: idToken, userinfo };
    req.session.idToken = tokens.id_token;
    res.redirect('/');
  } catch (error) {
    // An error from the broker (access_denied, ...) or a check that failed.
    res.status(400).send(page('The login ended', { error: error.error ?? error.code, error_description: error.error_description ?? error.message }));
  }
});

app.get('/logout', (req, res) => {
  const idToken = req.session.idToken;
  req.session.destroy(() => {
    if (!idToken) return res.redirect('/');
    res.redirect(client.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: `${appUrl}/` }).href);
  });
});

app.listen(port, '127.0.0.1', () => {
  process.stdout.write(`Express relying party at ${appUrl}/ (broker ${issuer.origin})\n`);
});
