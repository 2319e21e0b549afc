"""Fetching feeds politely: one shared aiohttp session, timeouts, a descriptive User-Agent,
conditional GET, a size cap, per-host spacing (arXiv asks for one request per 3 seconds across
the whole process) and exponential backoff that honours ``Retry-After``.

Nothing a user waits on calls this: the background refresher and the moderator CLI do.
Waiting uses an injectable monotonic clock and sleep, so tests check the 3-second spacing
without spending it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from typing import TYPE_CHECKING

from bot import __version__
from feeds.guard import UrlRefused
from feeds.papers import MAX_BODY

if TYPE_CHECKING:  # aiohttp costs ~0.1 s to import: only a process that fetches pays for it
    import aiohttp

Guard = Callable[[str], Awaitable[object]]

USER_AGENT = f"careerbot/{__version__} (Discord/Slack bot for student ML communities; +https://github.com/careerbot/careerbot)"
# Host suffix -> minimum seconds between requests to any host with that suffix.
POLITENESS = {"arxiv.org": 3.0}
MAX_RETRY_AFTER = 300.0


class FetchError(Exception):
    def __init__(
        self, reason: str, status: int | None = None, retry_after: float | None = None, transient: bool | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        # Network errors and 408/425/429/5xx may pass; a 404 or an oversized body will not.
        self.transient = transient if transient is not None else (status is None or status in (408, 425, 429) or status >= 500)


@dataclass
class FetchResult:
    url: str  # after redirects
    status: int
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None
    redirect: str | None = None  # where a redirect points (only when the caller follows them itself)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` is either seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, min(MAX_RETRY_AFTER, float(value)))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    delta = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return max(0.0, min(MAX_RETRY_AFTER, delta))


class Politeness:
    """Keeps requests to a host group at least ``interval`` seconds apart, process-wide."""

    def __init__(
        self,
        intervals: dict[str, float] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.intervals = POLITENESS if intervals is None else intervals
        self.monotonic = monotonic
        self.sleep = sleep
        self._last: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def group(self, url: str) -> str | None:
        host = (urlsplit(url).hostname or "").lower()
        for suffix in self.intervals:
            if host == suffix or host.endswith("." + suffix):
                return suffix
        return None

    def pending_wait(self, url: str) -> float:
        """How long a request to ``url`` would wait now (lets a caller with a deadline decide)."""
        group = self.group(url)
        if group is None or group not in self._last:
            return 0.0
        return max(0.0, self._last[group] + self.intervals[group] - self.monotonic())

    async def wait(self, url: str) -> None:
        group = self.group(url)
        if group is None:
            return
        lock = self._locks.setdefault(group, asyncio.Lock())
        await lock.acquire()
        try:
            wait = self.pending_wait(url)
            if wait > 0:
                await self.sleep(wait)
            self._last[group] = self.monotonic()
        finally:
            lock.release()

    def hold(self, url: str, seconds: float) -> None:
        """After a 429/503, push the next request to this group back by ``seconds``."""
        group = self.group(url)
        if group is not None:
            interval = self.intervals[group]
            self._last[group] = max(self._last.get(group, 0.0), self.monotonic() + seconds - interval)


class Fetcher:
    def __init__(
        self,
        politeness: Politeness | None = None,
        timeout: float = 20.0,
        max_bytes: int = MAX_BODY,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.politeness = politeness or Politeness()
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            import aiohttp

            timeout = aiohttp.ClientTimeout(total=self.timeout, sock_connect=min(10.0, self.timeout))
            self._session = aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": self.user_agent})
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def get(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        max_bytes: int | None = None,
        guard: Guard | None = None,
    ) -> FetchResult:
        """One polite request. Raises FetchError with a one-line reason (and Retry-After, if any).

        ``guard`` checks a URL before it is requested and again at each redirect (moderator-
        supplied URLs must not reach private addresses); redirects are then followed here.
        """
        if urlsplit(url).scheme not in ("http", "https"):
            raise FetchError(f"only http and https URLs can be fetched, not {url[:60]!r}", transient=False)
        limit = max_bytes or self.max_bytes
        if guard is not None:
            for _ in range(6):
                try:
                    await guard(url)
                except UrlRefused as exc:
                    raise FetchError(str(exc), transient=False) from None
                result = await self._get(url, etag, last_modified, limit, follow=False)
                if result.redirect is None:
                    return result
                url = result.redirect
            raise FetchError("too many redirects", transient=False)
        return await self._get(url, etag, last_modified, limit, follow=True)

    async def _get(self, url: str, etag: str | None, last_modified: str | None, limit: int, follow: bool) -> FetchResult:
        import aiohttp
        from yarl import URL

        await self.politeness.wait(url)
        headers = {"Accept-Encoding": "gzip, deflate"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        session = await self.session()
        try:
            async with session.get(url, headers=headers, allow_redirects=follow, max_redirects=5) as resp:
                if not follow and resp.status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                    return FetchResult(str(resp.url), resp.status, redirect=str(resp.url.join(URL(resp.headers["Location"]))))
                if resp.status == 304:
                    return FetchResult(str(resp.url), 304, etag=etag, last_modified=last_modified)
                if resp.status in (429, 503):
                    wait = retry_after_seconds(resp.headers.get("Retry-After"))
                    if wait is not None:
                        self.politeness.hold(url, wait)
                    raise FetchError(f"HTTP {resp.status} from {resp.url.host}", resp.status, wait)
                if resp.status >= 400:
                    raise FetchError(f"HTTP {resp.status} from {resp.url.host}", resp.status)
                declared = resp.content_length
                if declared is not None and declared > limit:
                    raise FetchError(
                        f"the response is {declared / 1e6:.1f} MB; over the {limit // 1_000_000} MB limit", transient=False
                    )
                chunks, size = [], 0
                async for chunk in resp.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > limit:
                        raise FetchError(f"the response is over the {limit // 1_000_000} MB limit", transient=False)
                    chunks.append(chunk)
                return FetchResult(
                    str(resp.url), resp.status, b"".join(chunks), resp.headers.get("ETag"), resp.headers.get("Last-Modified")
                )
        except aiohttp.TooManyRedirects:
            raise FetchError("too many redirects", transient=False) from None
        except asyncio.TimeoutError:
            raise FetchError(f"timed out after {self.timeout:.0f} s") from None
        except aiohttp.ClientConnectorError as exc:
            dns = "DNS" in type(exc).__name__
            raise FetchError(f"cannot reach {exc.host}" + (" (name not found: offline?)" if dns else f" ({exc.strerror or 'refused'})")) from None
        except aiohttp.ClientError as exc:
            raise FetchError(f"{type(exc).__name__}: {str(exc)[:120]}") from None

    async def get_with_retries(
        self,
        url: str,
        etag: str | None = None,
        last_modified: str | None = None,
        attempts: int = 3,
        base_delay: float = 2.0,
        max_bytes: int | None = None,
        guard: Guard | None = None,
    ) -> FetchResult:
        """Retries transient failures with exponential backoff, never sooner than Retry-After."""
        for attempt in range(1, attempts + 1):
            try:
                return await self.get(url, etag, last_modified, max_bytes, guard)
            except FetchError as exc:
                if attempt == attempts or not exc.transient:
                    raise
                delay = max(base_delay * 2 ** (attempt - 1), exc.retry_after or 0.0)
                await self.politeness.sleep(min(delay, MAX_RETRY_AFTER))
        raise AssertionError("unreachable")
