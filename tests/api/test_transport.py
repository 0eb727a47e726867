"""Every status the platforms send, as the transport turns it into a reply or an error for the user."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import httpx
import pytest

from audience_manager.api.errors import (
    ApiError,
    AuthenticationError,
    ConnectionFailedError,
    GaveUpError,
    NotFoundError,
)
from audience_manager.api.pacing import RateLimiter
from audience_manager.api.transport import (
    HeaderAuth,
    InsecureURLError,
    Reply,
    RetryPolicy,
    Transport,
    check_base_url,
    json_messages,
    rate_limit_hints,
)
from audience_manager.core.platforms import RateLimit

from .timing_fakes import FakeTime

TOKEN = "tok_SECRET_abc123"
Handler = Callable[[httpx.Request], httpx.Response]


def make(handler: Handler, fake_time: FakeTime, **kw: object) -> Transport:
    limiter = RateLimiter(RateLimit(600, 60.0), clock=fake_time.clock, sleep=fake_time.sleep)
    return Transport(
        "https://api.kit.com",
        limiter=limiter,
        messages=json_messages(),
        platform_name="Kit",
        secrets=[TOKEN],
        auth=HeaderAuth({"X-Kit-Api-Key": TOKEN}),
        transport=httpx.MockTransport(handler),
        sleep=fake_time.sleep,
        jitter=lambda: 0.5,
        clock=fake_time.clock,
        **kw,  # type: ignore[arg-type]
    )


def run(transport: Transport, method: str = "GET", path: str = "/v4/account", **kw: object) -> Reply:
    async def main() -> Reply:
        try:
            return await transport.request(method, path, **kw)  # type: ignore[arg-type]
        finally:
            await transport.aclose()

    return asyncio.run(main())


def sequence(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return handler, seen


def test_ok_json_and_auth_header(fake_time: FakeTime) -> None:
    handler, seen = sequence(httpx.Response(200, json={"account": {"name": "Acme"}}))
    reply = run(make(handler, fake_time))
    assert reply.status == 200 and reply.body == {"account": {"name": "Acme"}}
    assert seen[0].headers["X-Kit-Api-Key"] == TOKEN


def test_empty_body_is_none(fake_time: FakeTime) -> None:
    handler, _ = sequence(httpx.Response(204))
    assert run(make(handler, fake_time), "DELETE", "/v4/tags/1/subscribers/2").body is None


def test_429_without_retry_after_backs_off_exponentially_then_succeeds(fake_time: FakeTime) -> None:
    handler, seen = sequence(
        httpx.Response(429, text="Retry later"),
        httpx.Response(429, text="Retry later"),
        httpx.Response(200, json={"ok": True}),
    )
    reply = run(make(handler, fake_time))
    assert reply.body == {"ok": True} and len(seen) == 3
    # equal jitter at 0.5: 2 s base -> 1.5 s, then 4 s base -> 3 s; waited through the limiter's pause
    assert fake_time.now == pytest.approx(1000.0 + 1.5 + 3.0)


def test_429_honours_retry_after(fake_time: FakeTime) -> None:
    handler, _ = sequence(httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={}))
    run(make(handler, fake_time))
    assert fake_time.now == pytest.approx(1007.0)


def test_429_storm_gives_up_with_a_reason(fake_time: FakeTime) -> None:
    handler, seen = sequence(httpx.Response(429, text="Retry later"))
    with pytest.raises(GaveUpError, match="too many requests") as info:
        run(make(handler, fake_time, retry=RetryPolicy(throttle_attempts=4)))
    assert len(seen) == 4
    assert TOKEN not in info.value.reason


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_retried_then_given_up(status: int, fake_time: FakeTime) -> None:
    handler, seen = sequence(httpx.Response(status, text="oops"))
    with pytest.raises(GaveUpError, match=f"server error \\(HTTP {status}") as info:
        run(make(handler, fake_time, retry=RetryPolicy(attempts=3)))
    assert len(seen) == 3
    assert "3 tries" in info.value.reason
    assert fake_time.sleeps == [0.75, 1.5]  # 1 s then 2 s, equal jitter at 0.5


def test_5xx_then_success(fake_time: FakeTime) -> None:
    handler, seen = sequence(httpx.Response(503), httpx.Response(200, json={"a": 1}))
    assert run(make(handler, fake_time)).body == {"a": 1}
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("exc", "expected", "words"),
    [
        (httpx.ReadTimeout("slow"), GaveUpError, "did not answer in time"),
        (httpx.RemoteProtocolError("peer closed"), GaveUpError, "failed or dropped"),
        (httpx.ReadError("reset"), GaveUpError, "failed or dropped"),
        (httpx.ConnectError("refused"), ConnectionFailedError, "failed or dropped"),
    ],
)
def test_network_failures_retried_then_given_up(
    exc: Exception, expected: type[Exception], words: str, fake_time: FakeTime
) -> None:
    handler, seen = sequence(exc)
    with pytest.raises(expected, match=words):
        run(make(handler, fake_time, retry=RetryPolicy(attempts=4)))
    assert len(seen) == 4


def test_dropped_connection_then_success(fake_time: FakeTime) -> None:
    handler, seen = sequence(httpx.RemoteProtocolError("dropped"), httpx.Response(200, json={"x": 1}))
    assert run(make(handler, fake_time)).body == {"x": 1}
    assert len(seen) == 2


def test_413_waits_and_retries(fake_time: FakeTime) -> None:
    msg = (
        "This request exceeds your queued bulk requests limit. Please wait while we process "
        "your existing requests and try again later."
    )
    handler, seen = sequence(
        httpx.Response(413, json={"errors": [msg]}), httpx.Response(200, json={"failures": []})
    )
    reply = run(make(handler, fake_time), "POST", "/v4/bulk/tags/subscribers", json={"taggings": []})
    assert reply.body == {"failures": []} and len(seen) == 2
    assert fake_time.sleeps == [3.75]  # 5 s base, equal jitter


def test_413_forever_gives_up_with_platform_words(fake_time: FakeTime) -> None:
    handler, _ = sequence(httpx.Response(413, json={"errors": ["queued bulk requests limit"]}))
    with pytest.raises(GaveUpError, match="queued bulk requests limit"):
        run(make(handler, fake_time, retry=RetryPolicy(attempts=2)), "POST", "/v4/bulk/tags/subscribers")


def test_401_expired_vs_invalid(fake_time: FakeTime) -> None:
    handler, _ = sequence(httpx.Response(401, json={"errors": ["The access token expired"]}))
    with pytest.raises(AuthenticationError) as info:
        run(make(handler, fake_time))
    assert info.value.expired is True
    assert info.value.messages == ["The access token expired"]

    handler, seen = sequence(httpx.Response(401, json={"errors": ["The access token is invalid"]}))
    with pytest.raises(AuthenticationError) as info:
        run(make(handler, fake_time))
    assert info.value.expired is False
    assert len(seen) == 1  # never retried


def test_404_and_4xx_keep_the_platform_words(fake_time: FakeTime) -> None:
    handler, _ = sequence(httpx.Response(404, json={"errors": ["Not Found"]}))
    with pytest.raises(NotFoundError) as nf:
        run(make(handler, fake_time))
    assert nf.value.messages == ["Not Found"] and nf.value.status == 404

    for status, body in [
        (422, {"errors": ["Email address is invalid", ["nested", "message"]]}),
        (400, {"error": "Bad", "message": "x"}),
        (403, {"errors": ["This request would exceed your subscriber limit"]}),
    ]:
        handler, seen = sequence(httpx.Response(status, json=body))
        with pytest.raises(ApiError) as err:
            run(make(handler, fake_time))
        assert not isinstance(err.value, AuthenticationError | NotFoundError)
        assert err.value.status == status and len(seen) == 1
    assert err.value.messages == ["This request would exceed your subscriber limit"]


def test_422_nested_messages_are_flattened(fake_time: FakeTime) -> None:
    handler, _ = sequence(httpx.Response(422, json={"errors": ["Email address is invalid", ["a", "b"]]}))
    with pytest.raises(ApiError) as err:
        run(make(handler, fake_time))
    assert err.value.messages == ["Email address is invalid", "a", "b"]


@pytest.mark.parametrize(
    "bad",
    [
        httpx.Response(200, text="<html><body>502 Bad Gateway</body></html>"),
        httpx.Response(200, text='{"tags": [1, 2'),
        httpx.Response(502, text="<html><h1>Bad gateway</h1></html>", headers={"content-type": "text/html"}),
    ],
)
def test_malformed_or_html_is_a_server_fault_not_a_traceback(
    bad: httpx.Response, fake_time: FakeTime
) -> None:
    handler, seen = sequence(bad)
    with pytest.raises(GaveUpError) as info:
        run(make(handler, fake_time, retry=RetryPolicy(attempts=3)))
    assert len(seen) == 3
    assert "JSONDecodeError" not in info.value.reason and "<html" not in info.value.reason


def test_html_then_good_json_recovers(fake_time: FakeTime) -> None:
    handler, _ = sequence(httpx.Response(200, text="<html>proxy</html>"), httpx.Response(200, json={"ok": 1}))
    assert run(make(handler, fake_time)).body == {"ok": 1}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000",
        "http://127.3.4.5",
        "http://localhost:9",
        "http://[::1]:80",
        "https://api.kit.com",
    ],
)
def test_https_or_loopback_allowed(url: str) -> None:
    check_base_url(url)


@pytest.mark.parametrize(
    "url", ["http://api.kit.com", "http://10.0.0.1", "ftp://x", "api.kit.com", "http://demo.invalid"]
)
def test_plain_http_to_the_network_refused(url: str) -> None:
    with pytest.raises(InsecureURLError):
        check_base_url(url)


def test_in_process_demo_host_allowed_only_with_a_transport() -> None:
    check_base_url("http://kit.demo.invalid", in_process=True)
    check_base_url("http://demo.sandbox", in_process=True)
    with pytest.raises(InsecureURLError):
        check_base_url("http://demo.sandbox")
    with pytest.raises(InsecureURLError):
        check_base_url("http://api.kit.com", in_process=True)


def test_debug_log_never_shows_the_secret(fake_time: FakeTime, caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401, json={"errors": [f"The token {TOKEN} is invalid"], "api_secret": "sec_ret_value"}
        )

    transport = make(handler, fake_time, headers={"Authorization": "Bearer othertoken999"})
    with (
        caplog.at_level(logging.DEBUG, logger="audience_manager.api.transport"),
        pytest.raises(AuthenticationError) as info,
    ):
        run(
            transport,
            "POST",
            "/v3/tags",
            params={"api_key": "k3y_value", "x": "1"},
            json={"api_secret": "sec_ret_value"},
        )
    text = caplog.text
    assert "→ POST" in text and "← 401" in text
    for secret in (TOKEN, "k3y_value", "sec_ret_value", "othertoken999"):
        assert secret not in text
        assert secret not in str(info.value)
    assert "[redacted]" in text


def test_rate_limit_headers_slow_us_down(fake_time: FakeTime) -> None:
    handler, _ = sequence(httpx.Response(200, json={}, headers={"X-RateLimit-Remaining": "0"}))
    transport = make(handler, fake_time, hints=rate_limit_hints)

    async def main() -> None:
        await transport.request("GET", "/a")
        assert transport.budget().remaining == 0
        await transport.request("GET", "/b")
        await transport.aclose()

    asyncio.run(main())
    assert fake_time.now >= 1060.0  # waited for the server's window to pass


def test_certificate_problem_is_not_retried(fake_time: FakeTime) -> None:
    handler, seen = sequence(httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"))
    with pytest.raises(ConnectionFailedError, match="could not be verified"):
        run(make(handler, fake_time))
    assert len(seen) == 1


def test_redirect_is_an_error_not_a_reply(fake_time: FakeTime) -> None:
    handler, _ = sequence(httpx.Response(301, headers={"Location": "http://elsewhere.example/v4?api_key=zz"}))
    with pytest.raises(ApiError) as info:
        run(make(handler, fake_time))
    assert info.value.status == 301 and "zz" not in str(info.value)


def test_other_httpx_errors_become_a_plain_reason(fake_time: FakeTime) -> None:
    handler, _ = sequence(httpx.UnsupportedProtocol(f"bad proxy for {TOKEN}"))
    with pytest.raises(GaveUpError) as info:
        run(make(handler, fake_time))
    assert "Could not send" in info.value.reason and TOKEN not in info.value.reason
