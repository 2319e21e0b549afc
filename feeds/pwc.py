"""Pure parsers for the Papers With Code API: which repository is a paper's official code.

paperswithcode.com shut down in 2025; in 2026 Hugging Face relaunched its read-only API v1 at
``https://paperswithcode.co/api/v1`` in the old shape (the one ``paperswithcode-client`` 0.3.1
reads): ``/papers/?arxiv_id=`` finds a paper's PwC slug, ``/papers/{slug}/repositories/`` lists
its implementations. Both are Django REST pages ``{count, next, previous, results}`` whose
``next`` is an absolute URL (``...?page=2``). No network here: bytes in, dataclasses out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from bot.text import strip_control
from feeds.papers import FeedError, parse_arxiv_id

BASE_URL = "https://paperswithcode.co/api/v1"
MAX_PAGE = 5 * 1024 * 1024  # 5 MB: a 50-paper page with abstracts is ~100 KB; more is not a PwC page
FRAMEWORKS = {"pytorch": "PyTorch", "tf": "TensorFlow", "jax": "JAX", "mxnet": "MXNet", "paddle": "PaddlePaddle"}


@dataclass
class PwcPaper:
    id: str  # PwC slug, e.g. "lora-low-rank-adaptation-of-large-language"
    arxiv_id: str | None
    title: str
    url_abs: str
    proceeding: str | None = None
    published: date | None = None


@dataclass
class PwcRepo:
    url: str
    owner: str
    name: str
    stars: int = 0
    framework: str = "none"
    is_official: bool = False


@dataclass
class PwcPage:
    count: int
    next: str | None
    results: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _canonical_arxiv(text: str) -> str:
    """PwC stores ids without a version; ``2106.09685v2`` and ``arXiv:2106.09685`` mean the same paper."""
    parsed = parse_arxiv_id(text)
    return parsed[0].lower() if parsed else text.strip().lower()


def search_url(base: str, arxiv_id: str) -> str:
    """The papers search for one arXiv id, version dropped: PwC stores ``arxiv_id`` without one."""
    return f"{base.rstrip('/')}/papers/?{urlencode({'arxiv_id': _canonical_arxiv(arxiv_id)})}"


def repositories_url(base: str, paper_id: str) -> str:
    """A slug is one path segment: a ``/`` or ``?`` in it must not change the route."""
    return f"{base.rstrip('/')}/papers/{quote(paper_id, safe='')}/repositories/"


def next_page_url(base: str, page: PwcPage) -> str | None:
    """``next`` only if it stays on ``base``'s host: a page must not steer the fetcher elsewhere.

    Behind a TLS proxy Django may write ``http://`` links; the base's scheme is kept."""
    if not page.next:
        return None
    want, link = urlsplit(base), urlsplit(page.next)
    if link.scheme not in ("http", "https") or link.netloc.lower() != want.netloc.lower():
        return None
    return urlunsplit((want.scheme, link.netloc, link.path, link.query, ""))


def _text(value: Any, where: str, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{where} is missing" if value is None else f"{where} is a {type(value).__name__}, not a string")
    if required and not value.strip():
        raise ValueError(f"{where} is empty")
    return " ".join(strip_control(value).split())


def _stars(value: Any) -> int:
    """The model says int; a string of digits is read, anything else counts as no stars."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return 0


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if isinstance(value, str) else None
    except ValueError:
        return None


def _paper(entry: dict[str, Any]) -> PwcPaper:
    return PwcPaper(
        id=_text(entry.get("id"), "id") or "",
        arxiv_id=_text(entry.get("arxiv_id"), "arxiv_id", required=False) or None,
        title=_text(entry.get("title"), "title") or "",
        url_abs=_text(entry.get("url_abs"), "url_abs", required=False) or "",
        proceeding=_text(entry.get("proceeding"), "proceeding", required=False) or None,
        published=_date(entry.get("published")),
    )


def _repo(entry: dict[str, Any]) -> PwcRepo:
    url = _text(entry.get("url"), "url") or ""
    if not re.match(r"^https?://[^\s<>\"]+$", url):
        raise ValueError(f"url {url[:60]!r} is not http(s)")
    official = entry.get("is_official")
    if official is not None and not isinstance(official, bool):
        raise TypeError(f"is_official is {official!r:.40}, not true/false")
    framework = entry.get("framework")
    return PwcRepo(
        url=url,
        owner=_text(entry.get("owner"), "owner", required=False) or "",
        name=_text(entry.get("name"), "name", required=False) or "",
        stars=_stars(entry.get("stars")),
        framework=" ".join(strip_control(framework).split())[:40] or "none" if isinstance(framework, str) else "none",
        is_official=bool(official),
    )


def _parse_page(body: bytes, entry: Callable[[dict[str, Any]], Any]) -> PwcPage:
    """Whole-page problems raise FeedError; one bad entry is skipped and noted in ``errors``."""
    if len(body) > MAX_PAGE:
        raise FeedError(f"the response is {len(body) / 1e6:.1f} MB; Papers With Code pages over 5 MB are refused")
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if not head:
        raise FeedError("the response is empty")
    if head == b"<":
        raise FeedError("got an HTML page, not a Papers With Code API response")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FeedError(f"the response is not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(data, dict):
        raise FeedError(f"expected a JSON object with 'results', got a {type(data).__name__}")
    if "results" not in data:
        detail = data.get("detail") or data.get("message") or data.get("error")
        said = f" (the API said: {' '.join(strip_control(detail).split())[:80]})" if isinstance(detail, str) else ""
        raise FeedError(f"the response has no 'results': not a Papers With Code page{said}")
    results = data["results"]
    if not isinstance(results, list):
        raise FeedError(f"'results' is a {type(results).__name__}, not a list")
    page = PwcPage(count=0, next=None)
    for i, raw in enumerate(results, 1):
        try:
            if not isinstance(raw, dict):
                raise TypeError(f"a {type(raw).__name__}, not an object")
            page.results.append(entry(raw))
        except (TypeError, ValueError) as exc:
            page.errors.append(f"result {i}: {exc}")
    count = data.get("count")
    page.count = count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else len(results)
    if count != page.count:
        page.errors.append(f"count {count!r} is not a number; using {page.count}")
    nxt = data.get("next")
    page.next = nxt.strip() if isinstance(nxt, str) and re.match(r"^https?://\S+$", nxt.strip()) else None
    if nxt is not None and page.next is None:
        page.errors.append(f"next {str(nxt)[:60]!r} is not an http(s) URL; stopping here")
    return page


def parse_papers_page(body: bytes) -> PwcPage:
    """A ``/papers/`` page; ``results`` holds PwcPaper."""
    return _parse_page(body, _paper)


def parse_repositories_page(body: bytes) -> PwcPage:
    """A ``/papers/{id}/repositories/`` page; ``results`` holds PwcRepo."""
    return _parse_page(body, _repo)


def best_code(repos: list[PwcRepo]) -> PwcRepo | None:
    """The official implementation with the most stars (the first one on a tie).

    A popular unofficial reimplementation is not "the paper's code", so none official → None."""
    official = [r for r in repos if r.is_official]
    return max(official, key=lambda r: r.stars) if official else None


def framework_label(framework: str) -> str | None:
    """PwC's framework codes as people write them; "none" means no framework worth showing."""
    key = " ".join(strip_control(framework or "").split())
    if key.lower() in ("", "none"):
        return None
    return FRAMEWORKS.get(key.lower(), key[:30])


def match_paper(page: PwcPage, arxiv_id: str) -> PwcPaper | None:
    """The result that is this arXiv paper; never just the first (search can return others)."""
    want = _canonical_arxiv(arxiv_id)
    for paper in page.results:
        if isinstance(paper, PwcPaper) and paper.arxiv_id and _canonical_arxiv(paper.arxiv_id) == want:
            return paper
    return None
