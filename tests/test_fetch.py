"""The fetcher against a local HTTP server: conditional GET, Retry-After, redirects, timeouts,
size caps and arXiv's 3-second spacing (on a fake monotonic clock)."""

from __future__ import annotations

import pytest

from feeds.fetch import Fetcher, FetchError, Politeness, retry_after_seconds
from feeds.papers import parse_arxiv_rss
from tests.fakes.fake_time import FakeTime


@pytest.fixture
async def fetcher():
    ticks = FakeTime()
    f = Fetcher(Politeness({"127.0.0.1": 3.0}, ticks.monotonic, ticks.sleep), timeout=2.0)
    f.ticks = ticks  # type: ignore[attr-defined]
    yield f
    await f.close()


async def test_conditional_get_returns_304_after_the_first_fetch(server, fetcher) -> None:
    url = server.serve_fixture("/rss/quant-ph", "quant-ph_2025-04-28.xml")
    first = await fetcher.get(url)
    assert first.status == 200 and len(parse_arxiv_rss(first.body).items) == 81
    assert first.etag and first.last_modified
    again = await fetcher.get(url, first.etag, first.last_modified)
    assert again.not_modified and again.body == b""
    hit = server.hits("/rss/quant-ph")[-1]
    assert hit["if_none_match"] == first.etag and hit["if_modified_since"] == first.last_modified
    assert hit["user_agent"].startswith("careerbot/")


async def test_requests_to_one_host_are_spaced_three_seconds(server, fetcher) -> None:
    url = server.serve_fixture("/api", "q_testing_s0_m100_cfe7536492ca.xml")
    for _ in range(3):
        await fetcher.get(url)
    assert fetcher.ticks.slept == [3.0, 3.0]


async def test_429_and_503_honour_retry_after(server, fetcher) -> None:
    url = server.serve_fixture("/hf", "daily_papers_2026-08-21_reserialized.json")
    server.fail["/hf"] = [(429, {"Retry-After": "7"}), (503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})]
    result = await fetcher.get_with_retries(url, base_delay=1.0)
    assert result.status == 200
    assert len(server.hits("/hf")) == 3
    assert 7.0 in fetcher.ticks.slept  # waited at least Retry-After, not just the 1 s backoff


async def test_persistent_errors_give_a_one_line_reason(server, fetcher) -> None:
    with pytest.raises(FetchError) as info:
        await fetcher.get_with_retries(server.base_url + "/missing")
    assert info.value.status == 404 and info.value.reason == "HTTP 404 from 127.0.0.1"
    assert len(server.hits("/missing")) == 1  # a 404 is not retried
    server.fail["/down"] = [(503, {})] * 5
    server.routes["/down"] = b"[]"
    ticks = FakeTime()
    unspaced = Fetcher(Politeness({}, ticks.monotonic, ticks.sleep))
    try:
        with pytest.raises(FetchError, match="HTTP 503"):
            await unspaced.get_with_retries(server.base_url + "/down", attempts=4, base_delay=1.0)
    finally:
        await unspaced.close()
    assert ticks.slept == [1.0, 2.0, 4.0]  # exponential backoff between the four attempts


async def test_redirects_are_followed(server, fetcher) -> None:
    server.serve_fixture("/api", "q_testing_s0_m100_cfe7536492ca.xml")
    result = await fetcher.get(server.base_url + "/redirect/api")
    assert result.url.endswith("/api") and result.status == 200


async def test_timeouts_are_errors_not_hangs(server) -> None:
    server.routes["/slow"] = b"[]"
    server.slow["/slow"] = 2.0
    quick = Fetcher(Politeness({}), timeout=0.2)
    try:
        with pytest.raises(FetchError, match="timed out"):
            await quick.get(server.base_url + "/slow")
    finally:
        await quick.close()


async def test_bodies_over_the_limit_are_refused_while_streaming(server, fetcher) -> None:
    with pytest.raises(FetchError, match="over the 10 MB limit") as info:
        await fetcher.get(server.base_url + "/endless")
    assert not info.value.transient


async def test_only_http_urls(fetcher) -> None:
    with pytest.raises(FetchError, match="only http and https"):
        await fetcher.get("file:///etc/passwd")


def test_retry_after_forms() -> None:
    assert retry_after_seconds("12") == 12.0
    assert retry_after_seconds("-5") == 0.0
    assert retry_after_seconds("99999") == 300.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
