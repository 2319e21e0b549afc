"""Alert and search filters, written as tokens, and matching them fast.

Free words are keywords (whole words of the title or company, all required; ``-word``
excludes). ``remote``; ``location:canada``; ``season:summer-2027`` (or ``summer``, or
``2027``); ``sponsorship:yes``; ``category:ai-ml``; ``company:nvidia`` (quote or hyphenate
names with spaces: ``company:"jane street"``); ``degree:phd``. The same key twice means
either (``location:canada location:uk``); different keys must all hold.

Matching 100 new postings against 10,000 alerts must take milliseconds, so alerts are
indexed: each filter is filed under its most selective condition (a company, a keyword, a
place, a season...) and a posting only meets the filters filed under something it has.
"""

from __future__ import annotations

import re
import shlex
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from bot.text import quote_input
from feeds.places import canonical_place
from feeds.postings import CATEGORIES, DEGREES, SPONSORSHIP

MAX_TOKENS = 20
SEASON_WORDS = ("summer", "fall", "winter", "spring")
_WORD = re.compile(r"[a-z0-9][a-z0-9+#.]*")
_SEASON = re.compile(r"^(summer|fall|autumn|winter|spring)?[-\s]?'?(\d{2}|\d{4})?$")

KEY_ALIASES = {
    "location": "location", "loc": "location", "in": "location", "where": "location", "country": "location", "city": "location",
    "season": "season", "term": "season", "when": "season",
    "sponsorship": "sponsorship", "sponsor": "sponsorship", "visa": "sponsorship",
    "category": "category", "cat": "category", "field": "category",
    "company": "company", "co": "company", "at": "company",
    "degree": "degree",
}
VALUE_ALIASES = {
    "sponsorship": {
        "yes": "yes", "y": "yes", "true": "yes", "offered": "yes", "offers": "yes", "sponsored": "yes",
        "no": "no", "n": "no", "false": "no", "none": "no",
        "citizens-only": "citizens-only", "citizens": "citizens-only", "citizen": "citizens-only", "citizenship": "citizens-only",
        "us-citizens": "citizens-only", "unknown": "unknown",
    },
    "category": {
        "ai-ml": "ai-ml", "ai": "ai-ml", "ml": "ai-ml", "ai/ml": "ai-ml", "aiml": "ai-ml", "machine-learning": "ai-ml",
        "research": "ai-ml", "data": "data", "data-science": "data", "software": "software", "swe": "software",
        "sde": "software", "quant": "quant", "hardware": "hardware", "other": "other",
    },
    "degree": {
        "bachelors": "bachelors", "bachelor": "bachelors", "bs": "bachelors", "ba": "bachelors", "undergrad": "bachelors",
        "masters": "masters", "master": "masters", "ms": "masters", "msc": "masters", "phd": "phd", "ph.d": "phd",
        "doctorate": "phd",
    },
}


class FilterError(ValueError):
    """A filter a person typed cannot be read; the message says which token and what is accepted."""


class PostingLike(Protocol):
    company: str
    title: str
    places: list[str]
    remote: bool
    seasons: list[str]
    category: str
    sponsorship: str
    degrees: list[str]


def words_of(text: str) -> set[str]:
    """Whole words plus their plain stems, so "engineer" finds "Engineers" and "Engineering",
    and "intern" finds "Internship"."""
    found = set(_WORD.findall(text.lower()))
    stems = {w[:-1] for w in found if len(w) > 3 and w.endswith("s")}
    stems |= {w[:-3] for w in found if len(w) > 6 and w.endswith("ing")}
    stems |= {w[:-4] for w in found if len(w) > 6 and w.endswith("ship")}
    return found | stems


def _singular(word: str) -> str:
    """Keywords are kept singular; ``words_of`` gives a posting's plurals their singular too."""
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def company_key(text: str) -> str:
    return " ".join(_WORD.findall(text.lower().replace("-", " ")))


@dataclass(frozen=True)
class Filter:
    keywords: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    remote: bool = False
    locations: tuple[str, ...] = ()
    seasons: tuple[str, ...] = ()  # "summer-2027", "summer" or "2027"
    sponsorship: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    companies: tuple[str, ...] = ()
    degrees: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return self == Filter()

    def canonical(self) -> str:
        """One spelling per meaning: what is stored, shown, and used to spot duplicates."""
        def quoted(value: str) -> str:
            return f'"{value}"' if " " in value else value

        parts = list(self.keywords) + [f"-{w}" for w in self.excluded] + (["remote"] if self.remote else [])
        parts += [f"location:{quoted(v)}" for v in self.locations] + [f"season:{v}" for v in self.seasons]
        parts += [f"sponsorship:{v}" for v in self.sponsorship] + [f"category:{v}" for v in self.categories]
        parts += [f"company:{quoted(v)}" for v in self.companies] + [f"degree:{v}" for v in self.degrees]
        return " ".join(parts)

    def matches(self, p: PostingLike, words: set[str] | None = None) -> bool:
        if self.remote and not p.remote:
            return False
        if self.categories and p.category not in self.categories:
            return False
        if self.sponsorship and p.sponsorship not in self.sponsorship:
            return False
        if self.seasons and not any(_season_ok(want, p.seasons) for want in self.seasons):
            return False
        if self.degrees and not set(self.degrees) & set(p.degrees):
            return False
        if self.locations and not any(_place_ok(want, p) for want in self.locations):
            return False
        if self.companies:
            company = company_key(p.company)
            if not any(f" {c} " in f" {company} " for c in self.companies):
                return False
        if self.keywords or self.excluded:
            found = words if words is not None else words_of(f"{p.title} {p.company}")
            if not all(k in found for k in self.keywords) or any(k in found for k in self.excluded):
                return False
        return True

    def anchors(self) -> list[str]:
        """Index keys for this filter: any posting it matches has at least one of them."""
        if self.companies:
            return ["co:" + c.split()[0] for c in self.companies]
        if self.keywords:
            return ["kw:" + max(self.keywords, key=len)]  # every keyword is required: the longest is the rarest
        if self.locations:
            return ["loc:" + loc for loc in self.locations]
        if self.seasons:
            return ["season:" + s for s in self.seasons]
        if self.degrees:
            return ["deg:" + d for d in self.degrees]
        if self.sponsorship:
            return ["sp:" + s for s in self.sponsorship]
        if self.categories:
            return ["cat:" + c for c in self.categories]
        if self.remote:
            return ["remote"]
        return ["*"]


def _season_ok(want: str, seasons: list[str]) -> bool:
    if "-" in want:
        return want in seasons
    if want.isdigit():
        return any(s.endswith("-" + want) for s in seasons)
    return any(s.startswith(want + "-") for s in seasons)


def _place_ok(want: str, p: PostingLike) -> bool:
    if want == "remote":
        return p.remote
    if want in p.places:
        return True
    # A place our gazetteer does not know ("waterloo") still matches the words it was written with.
    return any(f" {want} " in f" {place} " for place in p.places)


def posting_keys(p: PostingLike, words: set[str]) -> set[str]:
    keys = {"*"} | {"kw:" + w for w in words} | {"co:" + w for w in company_key(p.company).split()}
    keys |= {"loc:" + place for place in p.places} | {"cat:" + p.category, "sp:" + p.sponsorship}
    keys |= {"deg:" + d for d in p.degrees}
    for season in p.seasons:
        word, _, year = season.partition("-")
        keys |= {"season:" + season, "season:" + word, "season:" + year}
    for place in p.places:  # unknown places match on their words too (see _place_ok)
        keys |= {"loc:" + w for w in place.split()}
    if p.remote:
        keys |= {"remote", "loc:remote"}
    return keys


# -- reading what people type ----------------------------------------------------------------------
def _tokens(text: str) -> list[str]:
    lexer = shlex.shlex(text.replace("“", '"').replace("”", '"'), posix=True)
    lexer.whitespace_split = True
    lexer.quotes = '"'  # only double quotes group words: "women's" stays one word
    lexer.commenters = ""
    try:
        tokens = list(lexer)
    except ValueError:
        raise FilterError("a quote is not closed; write company:\"jane street\" or company:jane-street") from None
    if len(tokens) > MAX_TOKENS:
        raise FilterError(f"at most {MAX_TOKENS} filter words")
    return tokens


def _season_value(raw: str) -> str:
    text = raw.lower().replace("autumn", "fall").replace("_", "-").strip()
    m = _SEASON.match(text)
    if not m or not (m.group(1) or m.group(2)):
        raise FilterError(f"season:{quote_input(raw, 20)[1:-1]} is not a season; use e.g. season:summer-2027, season:fall or season:2027")
    word = (m.group(1) or "").replace("autumn", "fall")
    year = m.group(2) or ""
    if len(year) == 2:
        year = "20" + year
    return f"{word}-{year}" if word and year else (word or year)


def parse_filter(text: str) -> Filter:
    """Reads filter tokens; raises FilterError naming the token that cannot be read."""
    fields: dict[str, list[str]] = defaultdict(list)
    remote = False
    for token in _tokens(text or ""):
        key, sep, value = token.partition(":")
        if not sep or "//" in value:
            word = token.lower().strip(",;")
            if word in ("remote", "location:remote"):
                remote = True
            elif word.startswith("-") and len(word) > 1:
                fields["excluded"].extend(_singular(w) for w in _WORD.findall(word[1:]))
            elif word:
                fields["keywords"].extend(_singular(w) for w in _WORD.findall(word))
            continue
        name = KEY_ALIASES.get(key.lower().strip())
        value = value.strip().strip(",;")
        if name is None:
            raise FilterError(
                f"{quote_input(key + ':', 20)} is not a filter; use location:, season:, sponsorship:, category:, company: or degree: "
                "(plain words are keywords, and remote means remote only)"
            )
        if not value:
            raise FilterError(f"{name}: needs a value, e.g. {_example(name)}")
        fields[name].append(_value(name, value))
    locations = fields.pop("location", [])
    if "remote" in locations:
        remote = True
        locations = [loc for loc in locations if loc != "remote"]
    return Filter(
        keywords=tuple(dict.fromkeys(fields["keywords"])),
        excluded=tuple(dict.fromkeys(fields["excluded"])),
        remote=remote,
        locations=tuple(dict.fromkeys(locations)),
        seasons=tuple(dict.fromkeys(fields["season"])),
        sponsorship=tuple(dict.fromkeys(fields["sponsorship"])),
        categories=tuple(dict.fromkeys(fields["category"])),
        companies=tuple(dict.fromkeys(fields["company"])),
        degrees=tuple(dict.fromkeys(fields["degree"])),
    )


def _example(name: str) -> str:
    return {
        "location": "location:canada", "season": "season:summer-2027", "sponsorship": "sponsorship:yes",
        "category": "category:ai-ml", "company": "company:nvidia", "degree": "degree:phd",
    }[name]


def _value(name: str, raw: str) -> str:
    low = raw.lower()
    if name == "season":
        return _season_value(raw)
    if name == "location":
        return canonical_place(low.replace("-", " "))
    if name == "company":
        key = company_key(low)
        if not key:
            raise FilterError(f"company:{quote_input(raw, 30)[1:-1]} has no letters or digits")
        return key
    table = VALUE_ALIASES[name]
    if low in table:
        return table[low]
    allowed = {"sponsorship": SPONSORSHIP, "category": CATEGORIES, "degree": DEGREES}[name]
    raise FilterError(f"{name}:{quote_input(raw, 20)[1:-1]} is not one of {', '.join(allowed)}")


# -- many alerts at once ---------------------------------------------------------------------------
class AlertIndex:
    """Alerts filed by their filters' anchors; identical filters are checked once per posting."""

    def __init__(self) -> None:
        self._filters: dict[str, Filter] = {}
        self._alerts: dict[str, list[int]] = defaultdict(list)  # canonical filter → alert ids
        self._by_anchor: dict[str, set[str]] = defaultdict(set)  # anchor → canonical filters
        self.errors: list[tuple[int, str]] = []

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._alerts.values())

    def add(self, alert_id: int, text: str, compiled: Filter | None = None) -> None:
        if text not in self._filters:
            try:
                self._filters[text] = compiled or parse_filter(text)
            except FilterError as exc:  # stored by an older version with other rules: skip, do not crash ingestion
                self.errors.append((alert_id, str(exc)))
                return
            for anchor in self._filters[text].anchors():
                self._by_anchor[anchor].add(text)
        self._alerts[text].append(alert_id)

    def match(self, p: PostingLike) -> list[int]:
        words = words_of(f"{p.title} {p.company}")
        candidates: set[str] = set()
        for key in posting_keys(p, words):
            found = self._by_anchor.get(key)
            if found:
                candidates |= found
        out: list[int] = []
        for text in candidates:
            if self._filters[text].matches(p, words):
                out.extend(self._alerts[text])
        return sorted(out)


def build_index(alerts: Iterable[tuple[int, str]]) -> AlertIndex:
    index = AlertIndex()
    for alert_id, text in alerts:
        index.add(alert_id, text)
    return index
