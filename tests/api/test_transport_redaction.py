"""Secrets never survive redaction: known values, auth headers, and secret-named parameters."""

from __future__ import annotations

from audience_manager.api.redaction import MASK, redact, redact_body, redact_headers, redact_url


def test_known_secrets_removed_anywhere() -> None:
    text = "token tok_123 failed; again tok_123, secret sec_9"
    out = redact(text, ["tok_123", "sec_9", ""])
    assert "tok_123" not in out and "sec_9" not in out and out.count(MASK) == 3


def test_secret_named_values_removed_without_knowing_them() -> None:
    for text in (
        "GET /v3/tags?api_key=abc123&x=1",
        '{"api_secret": "s3cr3t", "name": "x"}',
        "api_key: abc123",
        "Authorization: Bearer eyJhbGciOi.payload.sig",
    ):
        out = redact(text)
        for secret in ("abc123", "s3cr3t", "eyJhbGciOi.payload.sig"):
            assert secret not in out, out


def test_ordinary_words_left_alone() -> None:
    text = "The access token expired (HTTP 401); status code: 429"
    assert redact(text) == text


def test_headers() -> None:
    out = redact_headers(
        {
            "Authorization": "Bearer abc",
            "X-Kit-Api-Key": "kit_key",
            "Accept": "application/json",
            "X-Note": "kit_key",
        },
        ["kit_key"],
    )
    assert out == {"Authorization": MASK, "X-Kit-Api-Key": MASK, "Accept": "application/json", "X-Note": MASK}


def test_url() -> None:
    out = redact_url("https://user:pw@api.convertkit.com/v3/tags?api_key=K&api_secret=S&page=2", [])
    assert "K&" not in out and "=S" not in out and "pw" not in out
    assert "page=2" in out and "api.convertkit.com" in out


def test_body_json_and_form() -> None:
    body = b'{"api_key": "k1", "tag": {"name": "VIP"}, "nested": [{"token": "t1"}]}'
    out = redact_body(body)
    assert "k1" not in out and "t1" not in out and "VIP" in out
    assert "zz" not in redact_body("api_secret=zz&email=a@b.c")
    assert redact_body("x" * 50, limit=10).startswith("x" * 10)
