"""Pure parsers for paper sources: bytes in, normalized ``Paper`` items out.

Three sources, one shape: the arXiv API (Atom), arXiv's daily RSS (2024+ format) and Hugging
Face's daily papers (JSON, the successor of Papers With Code's community signal). Parsing
goes by namespace and element name, never by position: the arXiv API's layout has changed
over the years (namespace placement, element order, http/https ids) and will again.

Whole-payload problems (an arXiv error feed, HTML instead of a feed, truncated XML, a body
over the size limit, XML declaring entities) raise ``FeedError`` with a one-line reason.
Problems with single entries (no id, no title, a date in an odd format) skip or blank that
field and are listed in ``ParseResult.errors``, so one bad entry never costs the whole day.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from bot.text import strip_control

MAX_BODY = 10 * 1024 * 1024  # 10 MB: the 100-entry API page is 0.23 MB, a day of RSS 0.15 MB

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
DC = "{http://purl.org/dc/elements/1.1/}"

_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z][a-z\-]*(?:\.[A-Za-z]{2})?/\d{7}"
_ID_IN_URL = re.compile(
    rf"(?:arxiv\.org/(?:abs|pdf|html)/|oai:arxiv\.org:|^arxiv:|^)(?P<id>{_NEW_ID}|{_OLD_ID})(?:v(?P<v>\d+))?(?:\.pdf)?/?$",
    re.IGNORECASE,
)


class FeedError(Exception):
    """The payload as a whole is not usable; the message says why in one line."""


@dataclass
class Paper:
    arxiv_id: str  # canonical: no version, e.g. 2401.01234 or astro-ph/0601001
    title: str
    version: int | None = None
    authors: list[str] = field(default_factory=list)
    abstract: str = ""
    categories: list[str] = field(default_factory=list)
    primary_category: str | None = None
    published: str | None = None  # ISO 8601 UTC
    updated: str | None = None
    abs_url: str = ""
    pdf_url: str = ""
    code_url: str | None = None
    stars: int | None = None
    upvotes: int | None = None
    ai_summary: str | None = None
    announce_type: str | None = None  # RSS: new | cross | replace | replace-cross
    listed_on: str | None = None  # HF: the day it entered the daily list (YYYY-MM-DD)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ParseResult:
    items: list[Paper] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def checked(self, entries: int) -> "ParseResult":
        """Entries but not one usable paper: this is not (or no longer) a paper feed."""
        if entries and not self.items:
            raise FeedError(f"none of the {entries} entries is a usable arXiv paper (first problem: {self.errors[0][:80]})")
        return self


def parse_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """``2401.01234v2``, ``arXiv:2401.01234``, abs/pdf URLs, ``oai:arXiv.org:...`` → (id, version)."""
    m = _ID_IN_URL.search(text.strip())
    if not m:
        return None
    return m.group("id"), int(m.group("v")) if m.group("v") else None


def _text(value: str | None) -> str:
    """Whitespace normalized (titles and abstracts arrive hard-wrapped), controls removed."""
    return " ".join(strip_control(value or "").split())


def _iso(value: str | None, errors: list[str], where: str) -> str | None:
    if not value or not value.strip():
        return None
    raw = value.strip()
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            errors.append(f"{where}: unreadable date {raw[:40]!r}")
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _check_size(body: bytes) -> None:
    if len(body) > MAX_BODY:
        raise FeedError(f"the response is {len(body) / 1e6:.1f} MB; feeds over {MAX_BODY // 1_000_000} MB are refused")
    if not body.strip():
        raise FeedError("the response is empty")


def _xml_root(body: bytes, errors: list[str]) -> ET.Element:
    _check_size(body)
    head = body[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in body[:65536].lower():
        if b"<html" in head:
            raise FeedError("got an HTML page, not a feed")
        raise FeedError("XML that declares a DOCTYPE or entities is refused")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        errors.append(f"invalid UTF-8 at byte {exc.start} was replaced")
        body = body.decode("utf-8", "replace").encode("utf-8")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        if b"<html" in head:
            raise FeedError("got an HTML page, not a feed") from None
        raise FeedError(f"malformed or truncated XML ({exc})") from None


def _accept(result: ParseResult, seen: set[str], where: str, parsed: tuple[str, int | None] | None, title: str) -> bool:
    """The checks every source shares: an id, a title, and each paper once per payload."""
    if parsed is None:
        result.errors.append(f"{where}: no arXiv id; skipped")
        return False
    if not title:
        result.errors.append(f"{where} ({parsed[0]}): no title; skipped")
        return False
    if parsed[0] in seen:
        result.errors.append(f"{where}: {parsed[0]} appears twice; kept the first")
        return False
    seen.add(parsed[0])
    return True


def _links(arxiv_id: str) -> tuple[str, str]:
    """Links built from the canonical id: always the latest version, never a feed-supplied scheme."""
    return f"https://arxiv.org/abs/{arxiv_id}", f"https://arxiv.org/pdf/{arxiv_id}"


# -- arXiv API (Atom) ------------------------------------------------------------------------------
def parse_arxiv_api(body: bytes) -> ParseResult:
    result = ParseResult()
    root = _xml_root(body, result.errors)
    if root.tag != f"{ATOM}feed":
        raise FeedError(f"not an Atom feed (the document is <{_local(root.tag)}>)")
    seen: set[str] = set()
    entries = root.findall(f"{ATOM}entry")
    for n, entry in enumerate(entries, 1):
        raw_id = (entry.findtext(f"{ATOM}id") or "").strip()
        title = _text(entry.findtext(f"{ATOM}title"))
        authors = [_text(a.findtext(f"{ATOM}name")) for a in entry.findall(f"{ATOM}author")]
        if title == "Error" and ("/api/errors" in raw_id or authors == ["arXiv api core"]):
            raise FeedError(f"arXiv answered with an error: {_text(entry.findtext(f'{ATOM}summary')) or 'no detail'}")
        parsed = parse_arxiv_id(raw_id)
        where = f"entry {n}"
        if not _accept(result, seen, where, parsed, title) or parsed is None:
            continue
        abs_url, pdf_url = _links(parsed[0])
        primary = entry.find(f"{ARXIV}primary_category")
        categories = [c.get("term", "").strip() for c in entry.findall(f"{ATOM}category") if c.get("term")]
        result.items.append(
            Paper(
                arxiv_id=parsed[0],
                version=parsed[1],
                title=title,
                authors=[a for a in authors if a],
                abstract=_text(entry.findtext(f"{ATOM}summary")),
                categories=categories,
                primary_category=(primary.get("term") if primary is not None else None) or (categories[0] if categories else None),
                published=_iso(entry.findtext(f"{ATOM}published"), result.errors, where),
                updated=_iso(entry.findtext(f"{ATOM}updated"), result.errors, where),
                abs_url=abs_url,
                pdf_url=pdf_url,
                source="arxiv-api",
            )
        )
    return result.checked(len(entries))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1][:30]


# -- arXiv RSS (2024+) -----------------------------------------------------------------------------
_DESCRIPTION = re.compile(r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>[\w\-]+)\s*Abstract:\s*(?P<abstract>.*)$", re.S)


def parse_arxiv_rss(body: bytes) -> ParseResult:
    result = ParseResult()
    root = _xml_root(body, result.errors)
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise FeedError(f"not an RSS feed (the document is <{_local(root.tag)}>)")
    seen: set[str] = set()
    entries = channel.findall("item")
    for n, item in enumerate(entries, 1):
        where = f"item {n}"
        description = item.findtext("description") or ""
        m = _DESCRIPTION.match(description)
        candidates = [item.findtext("guid") or "", m.group("id") if m else "", item.findtext("link") or ""]
        parsed = next((p for p in (parse_arxiv_id(c) for c in candidates if c.strip()) if p), None)
        title = _text(item.findtext("title"))
        if not _accept(result, seen, where, parsed, title) or parsed is None:
            continue
        version = parsed[1]
        if version is None and m:
            version = (parse_arxiv_id(m.group("id")) or (None, None))[1]
        creators = " , ".join(_text(c.text) for c in item.findall(f"{DC}creator"))
        authors = [a.strip() for a in re.split(r",|\band\b", creators) if a.strip()]
        announce = _text(item.findtext(f"{ARXIV}announce_type")) or (m.group("type") if m else None)
        categories = [_text(c.text) for c in item.findall("category") if _text(c.text)]
        abs_url, pdf_url = _links(parsed[0])
        result.items.append(
            Paper(
                arxiv_id=parsed[0],
                version=version,
                title=title,
                authors=authors,
                abstract=_text(m.group("abstract") if m else description),
                categories=categories,
                primary_category=categories[0] if categories else None,
                published=_iso(item.findtext("pubDate"), result.errors, where),
                abs_url=abs_url,
                pdf_url=pdf_url,
                announce_type=announce or None,
                source="arxiv-rss",
            )
        )
    return result.checked(len(entries))


# -- Hugging Face daily papers (JSON) --------------------------------------------------------------
def parse_hf_daily(body: bytes) -> ParseResult:
    result = ParseResult()
    _check_size(body)
    try:
        data = json.loads(body.decode("utf-8", "replace"))
    except ValueError as exc:
        head = body[:200].lower()
        if b"<html" in head or b"<!doctype" in head:
            raise FeedError("got an HTML page, not Hugging Face's JSON") from None
        raise FeedError(f"not JSON ({exc.__class__.__name__}: {str(exc)[:80]})") from None
    if isinstance(data, dict) and "error" in data:
        raise FeedError(f"Hugging Face answered with an error: {str(data['error'])[:120]}")
    if not isinstance(data, list):
        raise FeedError("not a daily-papers list (expected a JSON array)")
    seen: set[str] = set()
    for n, entry in enumerate(data, 1):
        where = f"entry {n}"
        paper = entry.get("paper") if isinstance(entry, dict) else None
        if not isinstance(paper, dict):
            result.errors.append(f"{where}: no paper object; skipped")
            continue
        parsed = parse_arxiv_id(str(paper.get("id") or ""))
        title = _text(str(paper.get("title") or ""))
        if not _accept(result, seen, where, parsed, title) or parsed is None:
            continue
        authors = [
            _text(str(a.get("name") or "")) for a in paper.get("authors") or [] if isinstance(a, dict) and a.get("name")
        ]
        abs_url, pdf_url = _links(parsed[0])
        result.items.append(
            Paper(
                arxiv_id=parsed[0],
                version=parsed[1],
                title=title,
                authors=authors,
                abstract=_text(str(paper.get("summary") or "")),
                published=_iso(paper.get("publishedAt"), result.errors, where),
                abs_url=abs_url,
                pdf_url=pdf_url,
                code_url=_url(paper.get("githubRepo")),
                stars=_int(paper.get("githubStars")),
                upvotes=_int(paper.get("upvotes")),
                ai_summary=_text(str(paper.get("ai_summary") or "")) or None,
                # The daily list's day is submittedOnDailyAt (the entry-level publishedAt is when
                # the entry was created, which can be days earlier).
                listed_on=(_iso(paper.get("submittedOnDailyAt") or entry.get("publishedAt"), result.errors, where) or "")[:10] or None,
                source="hf-daily",
            )
        )
    return result.checked(len(data))


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _url(value: Any) -> str | None:
    if isinstance(value, str) and re.match(r"^https?://[^\s<>\"]+$", value.strip()):
        return value.strip()
    return None


PARSERS = {"arxiv-api": parse_arxiv_api, "arxiv-rss": parse_arxiv_rss, "hf-daily": parse_hf_daily}


def sniff_kind(body: bytes) -> str | None:
    """Guesses which parser a payload wants (for ``feeds preview`` without ``--kind``)."""
    head = body[:4096].lstrip()
    if head.startswith(b"[") or head.startswith(b"{"):
        # Hugging Face's daily list: objects holding a "paper" (a job list has none).
        return "hf-daily" if b'"paper"' in head else None
    if b"<rss" in head:
        return "arxiv-rss" if b"arxiv" in head.lower() else None
    if b"<feed" in head:
        return "arxiv-api" if b"arxiv" in head.lower() else None
    return None
