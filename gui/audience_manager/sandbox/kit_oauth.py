"""Kit's OAuth 2 server: authorization code with PKCE (S256), short-lived access tokens and
single-use, rotating refresh tokens (Kit's behaviour since 2026-05).

`/oauth/authorize` approves at once (there is no user to ask) and redirects with `code` and `state`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from audience_manager.sandbox.clock import Clock
from audience_manager.sandbox.responses import BadBody, params

TokenCheck = Literal["ok", "invalid", "expired"]
CODE_LIFETIME = 600.0


@dataclass
class AccessToken:
    expires_at: float | None  # clock time; None = never (the demo's pre-issued token)
    uses: int = 0


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    challenge: str | None
    expires_at: float


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class OAuthServer:
    clock: Clock
    client_ids: set[str]
    expires_in: int = 7200
    expire_after_uses: int | None = None  # mirrors Faults.expire_token_after
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, bool] = field(default_factory=dict)  # token -> still usable
    codes: dict[str, AuthCode] = field(default_factory=dict)

    # -- tokens
    def issue(self, *, never_expires: bool = False) -> dict[str, object]:
        access = "sbx_kit_at_" + secrets.token_urlsafe(24)
        refresh = "sbx_kit_rt_" + secrets.token_urlsafe(24)
        self.access_tokens[access] = AccessToken(None if never_expires else self.clock() + self.expires_in)
        self.refresh_tokens[refresh] = True
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": refresh,
            "scope": "public",
            "created_at": int(time.time()),
        }

    def check(self, token: str) -> TokenCheck:
        """Counts a use of `token` and says whether it may be used."""
        record = self.access_tokens.get(token)
        if record is None:
            return "invalid"
        record.uses += 1
        if record.expires_at is not None and self.clock() >= record.expires_at:
            return "expired"
        if self.expire_after_uses is not None and record.uses > self.expire_after_uses:
            return "expired"
        return "ok"

    # -- endpoints
    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        client_id, redirect_uri = q.get("client_id", ""), q.get("redirect_uri", "")
        if client_id not in self.client_ids:
            return _oauth_error(401, "invalid_client", "Client authentication failed due to unknown client.")
        if not redirect_uri or urlsplit(redirect_uri).scheme not in ("http", "https"):
            return _oauth_error(400, "invalid_request", "The redirect_uri is missing or not a URL.")
        if q.get("response_type", "code") != "code":
            return _oauth_error(400, "unsupported_response_type", "Only response_type=code is supported.")
        challenge = q.get("code_challenge")
        if challenge is not None and q.get("code_challenge_method", "plain") != "S256":
            return _oauth_error(400, "invalid_request", "Only code_challenge_method=S256 is supported.")
        if challenge is not None and not (43 <= len(challenge) <= 128):
            return _oauth_error(400, "invalid_request", "The code_challenge is malformed.")
        code = secrets.token_urlsafe(24)
        self.codes[code] = AuthCode(client_id, redirect_uri, challenge, self.clock() + CODE_LIFETIME)
        answer = {"code": code}
        if "state" in q:
            answer["state"] = q["state"]
        sep = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(redirect_uri + sep + urlencode(answer), status_code=302)

    async def token(self, request: Request) -> Response:
        try:
            p = await params(request)
        except BadBody:
            return _oauth_error(400, "invalid_request", "The request body could not be read.")
        grant = p.get("grant_type")
        if p.get("client_id") not in self.client_ids:
            return _oauth_error(401, "invalid_client", "Client authentication failed due to unknown client.")
        if grant == "authorization_code":
            return self._exchange_code(p)
        if grant == "refresh_token":
            refresh = str(p.get("refresh_token") or "")
            if not self.refresh_tokens.get(refresh):
                return _oauth_error(
                    400, "invalid_grant", "The refresh token is invalid, expired or was already used."
                )
            self.refresh_tokens[refresh] = False  # single use: the answer carries its successor
            return JSONResponse(self.issue())
        return _oauth_error(400, "unsupported_grant_type", "The grant_type is not supported.")

    def _exchange_code(self, p: dict[str, object]) -> Response:
        code = self.codes.pop(str(p.get("code") or ""), None)
        invalid = _oauth_error(
            400, "invalid_grant", "The authorization code is invalid, expired or was already used."
        )
        if code is None or self.clock() >= code.expires_at or code.client_id != p.get("client_id"):
            return invalid
        if p.get("redirect_uri") not in (None, code.redirect_uri):
            return invalid
        if code.challenge is not None:
            verifier = str(p.get("code_verifier") or "")
            if not (43 <= len(verifier) <= 128) or s256(verifier) != code.challenge:
                return _oauth_error(
                    400, "invalid_grant", "The code_verifier does not match the code_challenge."
                )
        elif not p.get("client_secret"):
            return _oauth_error(401, "invalid_client", "A client_secret or PKCE code_verifier is required.")
        return JSONResponse(self.issue())
