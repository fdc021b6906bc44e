#!/usr/bin/python3
"""A minimal relying party in Python: Authlib and requests, nothing else but the standard library.

It logs in through the broker with the authorization code flow and PKCE S256, checks the
ID token's signature against the broker's JWKS, reads userinfo, and shows what an app does
with the tokens afterwards: refresh, introspection (as an API checks a token), revocation and
RP-initiated logout.

    npm start                                      # the broker, in another terminal
    /usr/bin/python3 docs/examples/python-authlib/app.py
    # open http://127.0.0.1:3002/

On Debian: apt-get install python3-authlib python3-requests. The defaults match the client
`example-python` that `npm start` registers; ISSUER, CLIENT_ID, CLIENT_SECRET and PORT
override them. With PRIVATE_KEY_FILE (an RSA private key in PEM, whose public half the client's
registered jwks_uri publishes) the app authenticates with private_key_jwt instead of its secret;
with AUTH_METHOD=client_secret_jwt, by an assertion signed with its secret. /login?par=1
pushes the authorization request to the broker first (PAR, RFC 9126), as a client that names
the person with login_hint must for BankID to be told.
"""

import html
import json
import os
import secrets
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, JsonWebToken
from authlib.oauth2.rfc7523 import ClientSecretJWT, PrivateKeyJWT

ISSUER = os.environ.get("ISSUER", "http://localhost:3000")
CLIENT_ID = os.environ.get("CLIENT_ID", "example-python")
CLIENT_SECRET = os.environ.get("CLIENT_SECRET", "example-python-secret-for-trying-out-only")
PRIVATE_KEY_FILE = os.environ.get("PRIVATE_KEY_FILE")
SECRET_AUTH_METHOD = os.environ.get("AUTH_METHOD", "client_secret_basic")
PORT = int(os.environ.get("PORT", "3002"))
APP_URL = f"http://127.0.0.1:{PORT}"
REDIRECT_URI = f"{APP_URL}/callback"
# offline_access asks for a refresh token; prompt=consent is how OpenID Connect Core §11 lets
# a client ask for one.
SCOPE = "openid profile personal_number eid offline_access"

discovery = requests.get(f"{ISSUER}/.well-known/openid-configuration", timeout=10).json()
# Only the algorithms the broker says it signs with: never "none", never a guess.
id_token_jwt = JsonWebToken(discovery["id_token_signing_alg_values_supported"])

# Each browser's login in progress and its tokens, by a random cookie. A real app keeps these
# in its own session store.
sessions = {}


def client_authentication():
    """The client's credential and how it proves it: its secret, or an assertion signed with its key.

    Authlib authenticates at revocation and introspection with revocation_endpoint_auth_method,
    which is client_secret_basic whatever token_endpoint_auth_method says: private_key_jwt must
    be named for both, or those requests send the key as a Basic password.
    """
    if not PRIVATE_KEY_FILE:
        return CLIENT_SECRET, SECRET_AUTH_METHOD
    with open(PRIVATE_KEY_FILE, encoding="ascii") as key_file:
        return key_file.read(), "private_key_jwt"


CREDENTIAL, AUTH_METHOD = client_authentication()


def oauth(token=None):
    session = OAuth2Session(
        CLIENT_ID,
        CREDENTIAL,
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method=AUTH_METHOD,
        revocation_endpoint_auth_method=AUTH_METHOD,
        token=token,
    )
    # The assertion's audience is the token endpoint, at every endpoint (RFC 7523 §3).
    session.register_client_auth_method(PrivateKeyJWT(discovery["token_endpoint"]))
    session.register_client_auth_method(ClientSecretJWT(discovery["token_endpoint"]))
    return session


def verified_id_token(id_token, nonce):
    """The ID token's claims, once its signature, issuer, audience, nonce and times check out."""
    keys = JsonWebKey.import_key_set(requests.get(discovery["jwks_uri"], timeout=10).json())
    claims = id_token_jwt.decode(
        id_token,
        keys,
        claims_options={
            "iss": {"essential": True, "value": ISSUER},
            "aud": {"essential": True, "value": CLIENT_ID},
            "nonce": {"essential": True, "value": nonce},
        },
    )
    claims.validate()
    return dict(claims)


def pushed_request(url):
    """PAR (RFC 9126): the authorization URL's parameters go to the broker directly, the client
    authenticated as at the token endpoint; the browser then carries only the request_uri.

    Authlib 1.2 has no PAR of its own: its client authentication is used for the request.
    """
    client = oauth()
    answer = client.post(
        discovery["pushed_authorization_request_endpoint"],
        data=dict(parse_qsl(urlsplit(url).query)),
        auth=client.client_auth(AUTH_METHOD),
        withhold_token=True,
        timeout=10,
    )
    answer.raise_for_status()
    return f"{discovery['authorization_endpoint']}?{urlencode({'client_id': CLIENT_ID, 'request_uri': answer.json()['request_uri']})}"


class App(BaseHTTPRequestHandler):
    def session(self):
        cookie = SimpleCookie(self.headers.get("cookie", ""))
        sid = cookie["rp_session"].value if "rp_session" in cookie else None
        if sid not in sessions:
            sid = secrets.token_urlsafe(32)
            sessions[sid] = {}
        self.sid = sid
        return sessions[sid]

    def send(self, status, title, result=None, location=None):
        self.send_response(status)
        self.send_header("set-cookie", f"rp_session={self.sid}; Path=/; HttpOnly; SameSite=Lax")
        if location:
            self.send_header("location", location)
            self.end_headers()
            return
        links = '<a href="/login">Log in</a> · <form method="post" action="/refresh"><button>Refresh</button></form> · <form method="post" action="/introspect"><button>Introspect</button></form> · <form method="post" action="/logout"><button>Log out</button></form>'
        body = f"<!doctype html><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1><p>{links}</p>"
        if result is not None:
            body += f'<pre id="result">{html.escape(json.dumps(result, indent=2, ensure_ascii=False))}</pre>'
        encoded = body.encode()
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    def do_GET(self):
        url = urlsplit(self.path)
        session = self.session()
        if url.path == "/":
            self.send(200, "Python relying party", session.get("claims"))
        elif url.path == "/login":
            self.login(session, pushed="par" in parse_qs(url.query))
        elif url.path == "/callback":
            self.callback(session, parse_qs(url.query), f"{APP_URL}{self.path}")
        elif url.path == "/logged-out":
            self.send(200, "Logged out", session.pop("revoked", None))
        else:
            self.send(404, "Not found")

    def do_POST(self):
        session = self.session()
        actions = {"/refresh": self.refresh, "/introspect": self.introspect, "/logout": self.logout}
        action = actions.get(urlsplit(self.path).path)
        if not action:
            return self.send(404, "Not found")
        if "tokens" not in session:
            return self.send(400, "Not logged in")
        action(session)

    def login(self, session, pushed):
        flow = {"state": secrets.token_urlsafe(24), "nonce": secrets.token_urlsafe(24), "verifier": secrets.token_urlsafe(48)}
        session["flow"] = flow
        url, _ = oauth().create_authorization_url(
            discovery["authorization_endpoint"],
            state=flow["state"],
            nonce=flow["nonce"],
            code_verifier=flow["verifier"],
            prompt="consent",
        )
        self.send(302, "Redirecting", location=pushed_request(url) if pushed else url)

    def callback(self, session, query, full_url):
        flow = session.pop("flow", None)
        if not flow:
            return self.send(400, "No login in progress", {"next": "start again at /login"})
        # RFC 9207: the answer must come from the issuer the login was sent to.
        if query.get("iss", [None])[0] != ISSUER:
            return self.send(400, "Answer from an unexpected issuer")
        if "error" in query:
            return self.send(400, "The login ended", {"error": query["error"][0], "error_description": query.get("error_description", [""])[0]})
        try:
            tokens = oauth().fetch_token(
                discovery["token_endpoint"],
                authorization_response=full_url,
                state=flow["state"],
                code_verifier=flow["verifier"],
            )
            id_claims = verified_id_token(tokens["id_token"], flow["nonce"])
            userinfo = oauth(tokens).get(discovery["userinfo_endpoint"], timeout=10)
            userinfo.raise_for_status()
            userinfo = userinfo.json()
        except (AuthlibBaseError, requests.RequestException) as error:
            # A code that does not redeem, an ID token that does not verify: no login.
            return self.send(400, "The login could not be completed", {"error": type(error).__name__, "error_description": str(error)})
        if userinfo["sub"] != id_claims["sub"]:
            return self.send(400, "userinfo is about someone else")
        session["tokens"] = dict(tokens)
        session["claims"] = {"id_token": id_claims, "userinfo": userinfo}
        self.send(302, "Logged in", location="/")

    def refresh(self, session):
        old = session["tokens"]
        tokens = oauth().refresh_token(discovery["token_endpoint"], refresh_token=old["refresh_token"])
        # Where the broker rotates refresh tokens (public clients), the old one is used up: keep the new one.
        tokens.setdefault("refresh_token", old["refresh_token"])
        session["tokens"] = dict(tokens)
        self.send(200, "Refreshed", {"new_access_token": tokens["access_token"] != old["access_token"], "expires_in": tokens["expires_in"]})

    def introspect(self, session):
        answer = oauth().introspect_token(discovery["introspection_endpoint"], token=session["tokens"]["access_token"], token_type_hint="access_token")
        answer.raise_for_status()
        self.send(200, "Introspection", answer.json())

    def logout(self, session):
        tokens = session.pop("tokens")
        session.pop("claims", None)
        # Revoke the refresh token first: logging out of the broker alone leaves it usable.
        revoked = oauth().revoke_token(discovery["revocation_endpoint"], token=tokens["refresh_token"], token_type_hint="refresh_token")
        revoked.raise_for_status()
        # That ends the whole login at the broker, its access tokens included.
        still = oauth().introspect_token(discovery["introspection_endpoint"], token=tokens["access_token"], token_type_hint="access_token")
        session["revoked"] = {"access_token_active": still.json()["active"]}
        query = urlencode({"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": f"{APP_URL}/logged-out", "client_id": CLIENT_ID})
        self.send(303, "Logging out", location=f"{discovery['end_session_endpoint']}?{query}")

    def log_message(self, *args):
        pass  # The request lines carry codes and tokens in their query strings: not for a log.


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", PORT), App)
    print(f"Python relying party at {APP_URL}/ (broker {ISSUER})", flush=True)
    server.serve_forever()
