"""Kit's OAuth server as the sandbox plays it: PKCE code flow, short-lived tokens, rotating refresh tokens."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest

from audience_manager.sandbox import ManualClock, Sandbox, SandboxLimits

from .sandbox_client import Api

REDIRECT = "http://127.0.0.1:53682/callback"


@pytest.fixture
def limits() -> SandboxLimits:
    return SandboxLimits(oauth_expires_in=30)


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _authorize(api: Api, sb: Sandbox, challenge: str, path: str = "/oauth/authorize") -> str:
    answer = api.get(
        path,
        params={
            "client_id": sb.credentials.oauth_client_id,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "state": "xyz",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT and query["state"] == ["xyz"]
    return query["code"][0]


def test_code_flow_refresh_rotation_and_expiry(api: Api, sb: Sandbox, clock: ManualClock) -> None:
    verifier, challenge = _pkce()
    code = _authorize(api, sb, challenge)
    tokens = api.post(
        "/oauth/token",
        json={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": sb.credentials.oauth_client_id,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
    ).json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 30
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert api.get("/v4/account", headers=bearer).status_code == 200

    clock.advance(31)
    expired = api.get("/v4/account", headers=bearer)
    assert expired.status_code == 401 and expired.json() == {"errors": ["The access token expired"]}

    refreshed = api.post(
        "/oauth/token",
        data={  # form-encoded works as well as JSON
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": sb.credentials.oauth_client_id,
        },
    )
    assert refreshed.status_code == 200
    new = refreshed.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert (
        api.get("/v4/account", headers={"Authorization": f"Bearer {new['access_token']}"}).status_code == 200
    )

    reused = api.post(
        "/oauth/token",
        json={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": sb.credentials.oauth_client_id,
        },
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert reused.json()["error_description"]


def test_code_is_single_use_and_checked_against_the_verifier(api: Api, sb: Sandbox) -> None:
    verifier, challenge = _pkce()
    code = _authorize(api, sb, challenge, "/v4/oauth/authorize")
    wrong = api.post(
        "/v4/oauth/token",
        json={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": sb.credentials.oauth_client_id,
            "code_verifier": _pkce()[0],
        },
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    again = api.post(
        "/oauth/token",
        json={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": sb.credentials.oauth_client_id,
            "code_verifier": verifier,
        },
    )
    assert again.status_code == 400  # the failed attempt used the code up


def test_authorize_refuses_bad_requests(api: Api, sb: Sandbox) -> None:
    _, challenge = _pkce()
    base = {
        "client_id": sb.credentials.oauth_client_id,
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
    }
    assert api.get("/oauth/authorize", params={**base, "code_challenge_method": "plain"}).status_code == 400
    assert api.get("/oauth/authorize", params={**base, "client_id": "other"}).status_code == 401
    grant = api.post(
        "/oauth/token", json={"grant_type": "password", "client_id": sb.credentials.oauth_client_id}
    )
    assert grant.json()["error"] == "unsupported_grant_type"


def test_demo_refresh_token_works_once(api: Api, sb: Sandbox) -> None:
    body = {
        "grant_type": "refresh_token",
        "refresh_token": sb.credentials.kit_refresh_token,
        "client_id": sb.credentials.oauth_client_id,
    }
    assert api.post("/oauth/token", json=body).status_code == 200
    assert api.post("/oauth/token", json=body).json()["error"] == "invalid_grant"
