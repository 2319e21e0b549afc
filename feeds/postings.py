"""Pure parsers for internship job sources: bytes in, normalized ``Posting`` items out.

Three kinds of source, each with its own quirks:

* ``simplify`` — SimplifyJobs' ``listings.json``: one cumulative top-level array (oldest first,
  6,500 entries in late 2024). Hidden entries (``is_visible: false``) must never be posted; closed
  ones (``active: false``) stay as items so a stored posting can be marked closed. Dates are Unix
  seconds (``date_updated`` can precede ``date_posted``), ``url`` may be "", titles carry trailing
  spaces and flag emoji, ids are almost unique (two repeat, for different roles), and
  ``category``/``degrees`` exist only in 2025+ files. The list is curated, so a title without
  "intern" ("Software Engineer", "Algorithmic Trader") is still an internship.
* ``rss`` — RSS 2.0 / Atom job boards, read with feedparser. Titles are often ``Company: Role``,
  sometimes with a flag emoji as the only location; season and place hide in ``<category>`` or in
  the HTML description. Boards list every kind of job, so an internship signal is required.
* ``json`` — job APIs (RemoteOK, Greenhouse, Lever, ...): a list at the top or under ``jobs``/
  ``data``/..., every API with its own field names (a common set is recognized; a moderator may
  give an explicit ``mapping``). RemoteOK's array opens with a legal notice, which is skipped.

Whole-payload problems raise ``FeedError`` with a one-line reason; problems with one entry end up
in ``errors`` (one line each) or, for entries that are fine but not wanted, in ``rejected``.
Hostile-input decisions: strings "true"/"false" for flags are read as booleans; numeric strings and
ISO 8601 strings are accepted as dates; anything else unreadable becomes None plus an error line.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

from feeds.papers import FeedError
from feeds.places import flag_countries, is_remote, looks_like_place, place_city, place_terms

KINDS = ("simplify", "rss", "json")
CATEGORIES = ("ai-ml", "data", "software", "quant", "hardware", "other")
SPONSORSHIP = ("yes", "no", "citizens-only", "unknown")
DEGREES = ("bachelors", "masters", "phd")
MAX_BODY = 50 * 1024 * 1024
MAX_ERRORS = 200  # a 100k-entry garbage array must not produce 100k log lines


@dataclass
class Posting:
    source_id: str
    company: str
    title: str
    locations: list[str]
    remote: bool
    seasons: list[str]
    category: str
    sponsorship: str
    degrees: list[str]
    url: str
    posted_at: str | None
    updated_at: str | None
    active: bool
    places: list[str]

    @property
    def season(self) -> str | None:
        return self.seasons[0] if self.seasons else None

    def dedupe_key(self) -> str:
        """Same role from two sources → same key, whatever their title decorations."""
        first = self.locations[0] if self.locations else ""
        city = place_city(first) or ("remote" if (is_remote(first) if first else self.remote) else "")
        return f"{company_key(self.company)}|{normalize_title(self.title)}|{city}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.source_id, "company": self.company, "title": self.title, "locations": list(self.locations),
                "remote": self.remote, "season": self.season, "category": self.category, "sponsorship": self.sponsorship,
                "degrees": list(self.degrees), "url": self.url, "posted_at": self.posted_at, "active": self.active}


@dataclass
class Rejected:
    company: str
    title: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"company": self.company, "title": self.title, "reason": self.reason}


@dataclass
class PostingsResult:
    items: list[Posting] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _note(result: PostingsResult, message: str) -> None:
    if len(result.errors) < MAX_ERRORS:
        result.errors.append(message[:300])
    elif len(result.errors) == MAX_ERRORS:
        result.errors.append("(more problems not listed)")


# -- text hygiene --------------------------------------------------------------------------------
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f"
                        "\u202a-\u202e\u2060-\u206f\u3164\ufeff\ufff9-\ufffb]")
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0E\uFE0F\u20E3\U000E0000-\U000E007F]")
_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]{0,2000}>", re.IGNORECASE | re.DOTALL)


def clean_text(value: Any, limit: int) -> str:
    """Feed text made safe to show: no controls, zero-width tricks or emoji, one line, capped."""
    if not isinstance(value, str):
        return ""
    if not (value.isascii() and value.isprintable()):
        value = _unusual(value) if len(value) < 400 else _unusual.__wrapped__(value)
    elif "  " in value or value[:1] == " " or value[-1:] == " ":
        value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


@lru_cache(maxsize=8192)
def _unusual(value: str) -> str:
    return " ".join(_EMOJI.sub(" ", _INVISIBLE.sub("", unicodedata.normalize("NFC", value))).split())


def strip_html(value: str, limit: int = 20000) -> str:
    """Descriptions arrive as HTML, sometimes escaped twice (Greenhouse ``content``)."""
    value = value[: limit * 5]
    if "&lt;" in value:
        value = html.unescape(value)
    if "<" in value:
        value = _TAG.sub(" ", value)
    return " ".join(html.unescape(value).split())[:limit]


def _http(value: Any) -> str:
    """Only web links: a feed must not smuggle javascript: or file: URLs into a clickable button."""
    url = value.strip() if isinstance(value, str) else ""
    ok = url[:8].lower().startswith(("https://", "http://")) and len(url) <= 2048 and url.isprintable()
    return url if ok and " " not in url and url.split("//", 1)[1][:1] not in ("", "/") else ""


# -- classification ------------------------------------------------------------------------------
_POSITIVE = re.compile(
    r"\b(?:interns?|(?:w|ex)?internships?|interships?|co\s*-?\s*ops?|apprentice(?:s|ships?)?|student\s+researchers?"
    r"|working\s+student|werkstudent|placements?|industrial\s+trainee|student\s+trainee|summer\s+(?:analyst|associate"
    r"|student|fellow|scholar)s?|stagiaire|praktikum|practicum|residency|year\s+in\s+industry)\b")
_SENIOR = re.compile(  # "undergraduate senior", "senior year" are a student's year, not a level
    r"\b(?:(?<!undergraduate )(?<!college )(?<!rising )(?<!university )senior(?!\s+(?:year|only|students?)\b)|sr"
    r"|principal|directors?|vice\s+president|s?vp|head\s+of|distinguished|staff\s+(?:software|machine|ml|ai|data"
    r"|research|product|engineer|scientist|developer|designer|analyst|applied|security|site|hardware|firmware)|(?:tech|team|technical|engineering)\s+lead|lead\s+(?:engineer|developer|scientist|designer"
    r"|analyst|software|data|ml|machine|researcher))\b")
_RUNS_INTERNS = re.compile(r"\bintern(?:ship)?s?\s+program(?:me)?\s+(?:manager|coordinator|lead|director|specialist)"
                           r"|\b(?:manager|coordinator|recruiter|specialist)\b.{0,20}\bintern(?:ship)?s?\s+program")
_FULLTIME = re.compile(r"\b(?:full[\s-]?time|new\s+(?:college\s+)?grad(?:uate)?s?|entry[\s-]level|early\s+career"
                       r"|permanent|graduate\s+(?:program|programme|scheme))\b")
_SALES = re.compile(r"\b(?:sales|account\s+executive|account\s+manager|business\s+development\s+rep\w*|bdr|sdr)\b")
_MANAGER = re.compile(r"\b(?:manager|head|supervisor|chief)\b")


def is_internship(title: str, hints: str = "", trusted: bool = False) -> str | None:
    """None when it is an internship; else the rejection reason.

    A seniority word beats "intern" only when it comes first ("Senior Manager, Intern Program",
    but not "Summer Intern: Sr. Data Scientist"); "undergraduate senior" is a student's year. A
    trusted (curated) source needs no positive signal, an untrusted one needs it in the title or
    in its short hints (job type, tags) — never in a long description that merely mentions interns.
    """
    title = title if isinstance(title, str) else ""
    return _internship(title, hints if isinstance(hints, str) else "", bool(trusted))


@lru_cache(maxsize=8192)
def _internship(title: str, hints: str, trusted: bool) -> str | None:
    title, hints = title.lower(), hints.lower()
    if not title.strip():
        return "no title"
    senior, positive = _SENIOR.search(title), _POSITIVE.search(title)
    if senior and (not positive or senior.start() < positive.start()):
        return "not an internship (senior role)"
    if _RUNS_INTERNS.search(title):
        return "not an internship (runs the intern program)"
    if positive:
        return None
    if _FULLTIME.search(title):
        return "not an internship (full-time role)"
    if _SALES.search(title):
        return "not an internship (sales role)"
    if _MANAGER.search(title):
        return "not an internship (senior role)"
    if trusted:
        return None
    if hints and _POSITIVE.search(hints):
        return None
    if hints and _FULLTIME.search(hints):
        return "not an internship (full-time role)"
    return "not an internship (no intern/co-op in the title)"


_CATEGORY_RULES = [
    ("ai-ml", r"machine[\s-]+learning|ml|ai|artificial\s+intelligence|deep\s+learning|nlp|natural\s+language"
              r"|computer\s+vision|llms?|gen\s?ai|generative|reinforcement\s+learning|neural|mlops|applied\s+scientists?"),
    ("data", r"data(?!\s+cent(?:er|re))|analytics|business\s+intelligence|bi|statistic\w*|econometric\w*"),
    ("quant", r"quants?|quantitative|trading|traders?|algorithmic|market\s+making|hft"),
    ("hardware", r"hardware|electrical|electronics?|fpga|asic|chips?|embedded|firmware|silicon|circuits?|vlsi|rtl|pcb"
                 r"|analog|semiconductors?|soc|design\s+verification"),
    ("software", r"software|developers?|swe|sde|programmer|back[\s-]?end|front[\s-]?end|full[\s-]?stack|mobile|ios"
                 r"|android|devops|cloud|web|site\s+reliability|sre|platform\s+engineer\w*|cyber\s?security|security"
                 r"|programming|python|java|javascript|react|ruby|qa|test\s+automation|computer\s+science"
                 r"|information\s+technology|applications?\s+(?:engineer\w*|developer)|game\s+dev\w*"),
]
_CATEGORY_EXTRA = {"ai-ml": r"|\ba\.i\.", "software": r"|(?<!\w)c(?:\+\+|#)"}  # tokens \b cannot delimit
_CATEGORY_RES = [(name, re.compile(rf"\b(?:{rx})\b" + _CATEGORY_EXTRA.get(name, "")))
                 for name, rx in _CATEGORY_RULES]  # matched against lowercased text: IGNORECASE is slow


def _category_of(text: Any) -> str | None:
    if not isinstance(text, str) or not text:
        return None
    text = text.lower()
    for name, rx in _CATEGORY_RES:
        if rx.search(text):
            return name
    return None


def classify_category(title: str, source_category: str | None = None, text: str = "") -> str:
    """The title says most ("ML Engineer Intern" under "Software" is ai-ml), the source's own
    category comes next, short hint text (tags) last."""
    return _title_category(title) or _category_of(source_category) or _category_of(text) or "other"


@lru_cache(maxsize=8192)
def _title_category_cached(title: str) -> str | None:
    return _category_of(title)


def _title_category(title: Any) -> str | None:
    return _title_category_cached(title) if isinstance(title, str) else None


_SPONSOR_VALUES = {
    "offers sponsorship": "yes", "yes": "yes", "true": "yes", "sponsorship available": "yes", "available": "yes",
    "does not offer sponsorship": "no", "no": "no", "false": "no", "none": "no", "not available": "no",
    "u.s. citizenship is required": "citizens-only", "us citizenship is required": "citizens-only",
    "citizens only": "citizens-only", "citizens-only": "citizens-only", "other": "unknown", "unknown": "unknown",
}
_US = r"(?:u\.?\s?s\.?|united\s+states|american)"
_CITIZENS = re.compile(
    rf"\b{_US}\s+citizens?(?:hip)?\s+(?:only|(?:is\s+)?required)|\bcitizens\s+only|\bmust\s+be\s+(?:an?\s+)?{_US}\s+citizen"
    rf"|\brequires?\s+{_US}\s+citizenship|\b(?:security|secret|top\s+secret|ts/sci)\s+clearance\s+(?:is\s+)?required"
    r"|\b(?:obtain|hold|have|maintain)\s+(?:an?\s+)?(?:active\s+)?(?:security|secret|top\s+secret)\s+clearance",
    re.IGNORECASE)
_NO_SPONSOR = re.compile(
    r"\b(?:no|not|without)\s+(?:visa\s+)?sponsorship|\b(?:unable|not\s+able|cannot|can\s?not|will\s+not|won't|does\s+not"
    r"|do\s+not|don't|doesn't)\s+(?:to\s+)?(?:provide\s+|offer\s+)?(?:visa\s+|immigration\s+)?sponsor"
    r"|\bsponsorship\s+(?:is\s+)?not\s+(?:available|offered|provided)", re.IGNORECASE)
_YES_SPONSOR = re.compile(
    r"\b(?:visa\s+)?sponsorship\s+(?:is\s+)?(?:available|offered|provided)|\b(?:will|can|able\s+to)\s+sponsor"
    r"|\boffers?\s+(?:visa\s+)?sponsorship", re.IGNORECASE)


def normalize_sponsorship(value: str | None, text: str = "") -> str:
    """An explicit field wins; otherwise the text, most restrictive statement first ("U.S.
    citizens only; no sponsorship" is citizens-only, "will not sponsor" is not "will sponsor")."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.strip():
        known = _SPONSOR_VALUES.get(" ".join(value.lower().split()))
        if known and known != "unknown":
            return known
        if not known:
            text = f"{value} {text}"
    if not text:
        return "unknown"
    for answer, rx in (("citizens-only", _CITIZENS), ("no", _NO_SPONSOR), ("yes", _YES_SPONSOR)):
        if rx.search(text):
            return answer
    return "unknown"


_SEASON = r"(?:summer|fall|autumn|winter|spring)"
_SEASONS_THEN_YEAR = re.compile(
    rf"\b({_SEASON}(?:\s*(?:/|,|&|\+|-|–|and|or)\s*{_SEASON})*)\s*"
    r"(?:(?:internships?|interns?|co-?ops?|terms?|semesters?|session|cohort|program)\s*){0,2}[-–:,(]?\s*(?:of\s+)?"
    r"(?:(20\d\d)\b|['’‘](\d\d)\b)")
_YEAR_THEN_SEASONS = re.compile(rf"\b(20\d\d)\s*[-–:]?\s*({_SEASON}(?:\s*(?:/|&|and|or)\s*{_SEASON})*)\b")
_SEASON_WORD = re.compile(_SEASON)
_SEASON_ORDER = {"winter": 0, "spring": 1, "summer": 2, "fall": 3, "autumn": 3}


@lru_cache(maxsize=8192)
def _seasons_in(text: str) -> tuple[tuple[int, int, str], ...]:
    found = []

    def add(words: str, year: str) -> None:
        for word in _SEASON_WORD.findall(words):
            found.append((int(year), _SEASON_ORDER[word], "fall" if word == "autumn" else word))

    def season_first(m: re.Match[str]) -> str:
        add(m.group(1), m.group(2) or "20" + m.group(3))
        return " | "

    rest = _SEASONS_THEN_YEAR.sub(season_first, text.lower())
    for m in _YEAR_THEN_SEASONS.finditer(rest):
        add(m.group(2), m.group(1))
    return tuple(found)


def parse_seasons(*texts: str) -> list[str]:
    """Season slugs in calendar order (Winter 2025 comes after Fall 2024, as Simplify means it)."""
    found: set[tuple[int, int, str]] = set()
    for text in texts:
        if isinstance(text, str) and text:
            found.update(_seasons_in(text) if len(text) < 300 else _seasons_in.__wrapped__(text[:5000]))
    return [f"{name}-{year}" for year, _, name in sorted(found)]


_DEGREE_RE = re.compile(  # on lowercased text; the uppercase-only abbreviations are in _DEGREE_CAPS
    r"(?P<bachelors>\bbachelor'?s?\b|\bb\.\s?s\.|\bbsc\b|\bundergrad(?:uate)?s?\b)"
    r"|(?P<masters>\bmaster'?s\b|\bm\.\s?s\.|\bm\.?sc\b|\bmeng\b)|(?P<phd>\bph\.?\s?d\b|\bdoctora(?:l|te)\b)")
_DEGREE_CAPS = re.compile(r"(?P<bachelors>\bBS\b(?!\s*/\s*MS))|(?P<masters>\bMS\s*(?:[Ss]tudents?|[Cc]andidates?|[Dd]egree"
                          r"|[Pp]rogram|/\s*(?:Ph\.?\s?D|PHD|PhD))\b|\bM\.S\.|\bBS\s*/\s*MS\b)")


_DEGREE_HINT = re.compile(r"(?i:bach|mast|ph\.?\s?d|undergrad|doctor|[bm]\.s|msc|bsc|meng)|\b[BM]S\b")


def parse_degrees(values: Iterable[Any] = (), text: str = "") -> list[str]:
    """Degrees from a list field ("Bachelor's", "PhD") or text ("MS/PhD students"); a bare "MS"
    is not counted, it is Microsoft as often as it is a degree."""
    text = " ".join(v for v in values if isinstance(v, str)) + " " + text
    if not _DEGREE_HINT.search(text):
        return []
    return list(_degrees_in(text) if len(text) < 400 else _degrees_in.__wrapped__(text))


@lru_cache(maxsize=8192)
def _degrees_in(text: str) -> tuple[str, ...]:
    found = {m.lastgroup for m in _DEGREE_RE.finditer(text.lower().replace("’", "'"))}
    if "BS" in text or "MS" in text:
        found |= {m.lastgroup for m in _DEGREE_CAPS.finditer(text)}
        if re.search(r"\bBS\s*/\s*MS\b", text):
            found.add("bachelors")
    return tuple(name for name in DEGREES if name in found)


_COMPANY_SUFFIX = {"inc", "llc", "corp", "corporation", "co", "ltd", "limited", "plc", "gmbh", "lp", "llp", "ag", "sa"}
_DASHES = re.compile("[\u2010-\u2015\u2212_]")
_YEAR = re.compile(r"^(?:20\d\d)$")
_TRAILING_NOISE = {"remote", "hybrid", "onsite"}


_ASCII_PUNCT = str.maketrans({c: " " for c in "!\"$%&()*,-./:;<=>?@[\\]^_`{|}~"} | {"'": None})


def _words(text: str) -> list[str]:
    text = text.lower()
    if not text.isascii():
        text = _DASHES.sub(" ", text.replace("’", "'"))
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        return re.sub(r"[^\w+#]+", " ", text.replace("'", "")).split()
    return text.translate(_ASCII_PUNCT).split()


def normalize_title(title: str) -> str:
    """Drops what sources add around the same role: case, punctuation, dash variants, and the
    season/year at either end ("2025 Software Engineer Intern - Summer 2025")."""
    return _normalize_title(title) if isinstance(title, str) else ""


@lru_cache(maxsize=16384)
def _normalize_title(title: str) -> str:
    words = _words(title)
    seasons = set(_SEASON_ORDER)
    while words and (_YEAR.match(words[0]) or (words[0] in seasons and len(words) > 1 and _YEAR.match(words[1]))):
        words.pop(0)
    while words and (_YEAR.match(words[-1]) or words[-1] in seasons or words[-1] in _TRAILING_NOISE
                     or (len(words) > 1 and words[-1].isdigit() and len(words[-1]) == 2 and words[-2] in seasons)):
        words.pop()
    return " ".join(words)


@lru_cache(maxsize=16384)
def company_key(company: str) -> str:
    """Company for dedupe: "The Acme Corp." and "Acme, Inc." are one company."""
    words = _words(company if isinstance(company, str) else "")
    if words and words[0] == "the" and len(words) > 1:
        words.pop(0)
    while len(words) > 1 and words[-1] in _COMPANY_SUFFIX:
        words.pop()
    return " ".join(words)


# -- shared building -----------------------------------------------------------------------------
@dataclass(slots=True)
class _Raw:
    """One entry's facts as its source states them, before normalization."""
    where: str
    source_id: str = ""
    company: str = ""
    title: str = ""
    locations: list[str] = field(default_factory=list)
    remote: bool = False
    season_texts: list[str] = field(default_factory=list)
    source_category: str | None = None
    hints: str = ""
    description: str = ""
    sponsorship: Any = None
    degrees: list[Any] = field(default_factory=list)
    url: str = ""
    posted_at: str | None = None
    updated_at: str | None = None
    active: bool = True
    extra_places: list[str] = field(default_factory=list)


def _build(raw: _Raw, result: PostingsResult, seen: dict[str, Posting | set[str]], trusted: bool) -> Posting | None:
    """The one place where every source's facts become a Posting, so all sources filter, clean and
    classify alike; ``seen`` (per payload) tells a repeated id for another role from a plain repeat."""
    company, title = clean_text(raw.company, 200), clean_text(raw.title, 300)
    reason = is_internship(title, raw.hints, trusted) if title else "no title"
    if reason is None and not company:
        reason = "no company"
    if reason:
        result.rejected.append(Rejected(company, title, reason))
        return None
    locations = [loc for loc in (clean_text(v, 200) for v in raw.locations[:50]) if loc]
    places = set(raw.extra_places)
    for loc in locations:
        places.update(place_terms(loc))
    remote = raw.remote or "remote" in places
    if remote:
        places.add("remote")
    description = raw.description
    posting = Posting(
        source_id="", company=company, title=title, locations=locations, remote=remote,
        seasons=parse_seasons(*raw.season_texts) or parse_seasons(title) or parse_seasons(description[:3000]),
        category=classify_category(title, raw.source_category, raw.hints[:500]),
        sponsorship=normalize_sponsorship(raw.sponsorship, description),
        degrees=parse_degrees(raw.degrees, title if raw.degrees else f"{title} {description}"),
        url=_http(raw.url), posted_at=raw.posted_at, updated_at=raw.updated_at, active=raw.active,
        places=sorted(places),
    )
    base = clean_text(raw.source_id, 200)
    if not base:
        base = hashlib.sha1("|".join([company, title, posting.url, *locations]).encode()).hexdigest()[:16]
    posting.source_id, earlier = base, seen.get(base)
    if earlier is None:
        seen[base] = posting
    else:  # ids repeat rarely, so dedupe keys are only computed then (a set: 100k repeats stay linear)
        keys = earlier if isinstance(earlier, set) else {earlier.dedupe_key()}
        seen[base], key = keys, posting.dedupe_key()
        if key in keys:
            _note(result, f"{raw.where}: repeats id {base[:60]} for the same role; dropped the repeat")
            return None
        keys.add(key)
        posting.source_id = f"{base}#{hashlib.sha1(key.encode()).hexdigest()[:8]}"
    result.items.append(posting)
    return posting


def _when(value: Any, result: PostingsResult, where: str) -> str | None:
    """Unix seconds or milliseconds, numeric strings, ISO 8601, RFC 2822 → ISO 8601 UTC."""
    if value is None or value == "":
        return None
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()[:64]
        if re.fullmatch(r"\d{9,14}(?:\.\d+)?", text):
            number = float(text)
        else:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                try:
                    moment = parsedate_to_datetime(text)
                except (TypeError, ValueError, IndexError):
                    _note(result, f"{where}: unreadable date {text[:40]!r}")
                    return None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            if 1990 <= moment.year <= 2100:
                return moment.astimezone(UTC).replace(microsecond=0).isoformat()
            _note(result, f"{where}: date out of range {text[:40]!r}")
            return None
    if number is None:
        _note(result, f"{where}: a date cannot be {type(value).__name__}")
        return None
    if number > 1e11:
        number /= 1000  # milliseconds (Lever's createdAt)
    if not 631152000 <= number <= 4102444800:
        _note(result, f"{where}: date out of range ({value!r:.40})")
        return None
    return _epoch_iso(int(number))


@lru_cache(maxsize=16384)
def _epoch_iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _flag(value: Any, default: bool, result: PostingsResult, where: str) -> bool:
    """Booleans as APIs write them (true, "false", 1); garbage keeps the default and is noted."""
    if isinstance(value, bool):
        return value
    if value is None:
        return default
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", "yes", "no"}:
        return value.strip().lower() in {"true", "1", "yes"}
    if isinstance(value, int):
        return bool(value)
    _note(result, f"{where}: unreadable flag {value!r:.40}; assumed {str(default).lower()}")
    return default


def _strings(value: Any) -> list[str]:
    """A string, a list of strings, or objects with a name → strings (APIs use all three)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        for key in ("name", "location", "label", "value", "text", "city"):
            if isinstance(value.get(key), str):
                return [value[key]]
        return []
    if isinstance(value, list):
        return [s for item in value[:100] if not isinstance(item, list) for s in _strings(item)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [str(value)]
    return []


def _check_body(body: bytes) -> bytes:
    """Size first, before any parsing: the fetcher caps too, but a parser must not trust its caller."""
    if not isinstance(body, (bytes, bytearray)):
        raise FeedError(f"expected bytes, got {type(body).__name__}")
    if len(body) > MAX_BODY:
        raise FeedError(f"the response is {len(body):,} bytes; job feeds over {MAX_BODY // 2**20} MB are refused")
    body = bytes(body).lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body:
        raise FeedError("the response is empty")
    return body


def _is_html(head: bytes) -> bool:
    head = head[:2048].lower()
    return b"<html" in head or b"<!doctype html" in head or head.startswith((b"<head", b"<body"))


def _load_json(body: bytes) -> Any:
    body = _check_body(body)
    if body[:1] == b"<":
        raise FeedError("got an HTML page, not a feed" if _is_html(body) else "got XML (an RSS/Atom feed?), not JSON")
    try:
        return json.loads(body)
    except UnicodeDecodeError as exc:
        raise FeedError(f"not UTF-8 text (byte {exc.start})") from None
    except (ValueError, RecursionError) as exc:
        raise FeedError(f"not valid JSON ({str(exc)[:80]})") from None


def _none_usable(n: int, kind: str) -> FeedError:
    return FeedError(f"none of the {n} entries looks like a job posting (is this really a {kind} feed?)")


# -- SimplifyJobs ----------------------------------------------------------------------------------
def _typed(entry: dict[str, Any], key: str, kind: type, result: PostingsResult, where: str) -> Any:
    """The value when it has the documented type; else an error line and None (Simplify's schema is fixed)."""
    value = entry.get(key)
    if value is None or type(value) is kind:
        return value
    _note(result, f"{where}: {key} is {type(value).__name__}, expected {kind.__name__}")
    return None


def _text_list(entry: dict[str, Any], key: str, result: PostingsResult, where: str) -> list[str]:
    """A list of strings; a lone string is read as a one-item list, other items are dropped (noted)."""
    value = entry.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        _note(result, f"{where}: {key} is a string, read as a one-item list")
        return [value]
    if not isinstance(value, list):
        _note(result, f"{where}: {key} is {type(value).__name__}, expected list; ignored")
        return []
    texts = [v for v in value if isinstance(v, str)]
    if len(texts) != len(value):
        _note(result, f"{where}: {len(value) - len(texts)} {key} item(s) not text; ignored")
    return texts


def parse_simplify(body: bytes) -> PostingsResult:
    """SimplifyJobs listings.json; curated, so titles need no "intern" (trusted)."""
    data = _load_json(body)
    if not isinstance(data, list):
        raise FeedError(f"not a SimplifyJobs listings.json: the top level is {type(data).__name__}, not a list")
    result, seen, jobs = PostingsResult(), {}, 0
    for n, entry in enumerate(data, 1):
        where = f"entry {n}"
        if not isinstance(entry, dict):
            _note(result, f"{where}: {type(entry).__name__}, not an object; skipped")
            continue
        if "company_name" not in entry and "is_visible" not in entry:
            _note(result, f"{where}: not a listing (no company_name or is_visible); skipped")
            continue
        jobs += 1
        title, company = _typed(entry, "title", str, result, where), _typed(entry, "company_name", str, result, where)
        if not _flag(entry.get("is_visible"), True, result, where):
            result.rejected.append(Rejected(clean_text(company, 200), clean_text(title, 300), "hidden (is_visible=false)"))
            continue
        raw_id = entry.get("id")
        _build(_Raw(
            where=where, source_id=raw_id if type(raw_id) is str else str(raw_id) if type(raw_id) is int else "",
            company=company or "", title=title or "", locations=_text_list(entry, "locations", result, where),
            season_texts=_text_list(entry, "terms", result, where),
            source_category=_typed(entry, "category", str, result, where),
            sponsorship=_typed(entry, "sponsorship", str, result, where),
            degrees=_text_list(entry, "degrees", result, where), url=_typed(entry, "url", str, result, where) or "",
            posted_at=_when(entry.get("date_posted"), result, f"{where} date_posted"),
            updated_at=_when(entry.get("date_updated"), result, f"{where} date_updated"),
            active=_flag(entry.get("active"), True, result, where),
        ), result, seen, trusted=True)
    if data and not jobs:
        raise _none_usable(len(data), "SimplifyJobs")
    return result


# -- RSS / Atom ------------------------------------------------------------------------------------
_JOBISH = re.compile(r"\b(?:interns?|internships?|co-?op|apprentic\w*|engineers?|developer|scientist|analyst|manager"
                     r"|designer|researcher|associate|specialist|representative|consultant|coordinator|technician"
                     r"|director|executive|architect|administrator|accountant|trader|programmer|trainee|recruiter|job"
                     r"|hiring|position)\b", re.IGNORECASE)
_LOCATION_LINE = re.compile(r"\blocations?\s*:\s*(?:<[^>]{0,200}>\s*)*([^\n<|•;]{2,120}?)\s*(?:<|\n|\||•|;|\.\s|\.?$)",
                            re.IGNORECASE)


def _struct_iso(entry: Any, key: str, result: PostingsResult, where: str) -> str | None:
    """feedparser's own date parse, else ours; dict.get because feedparser aliases updated→published."""
    parsed = dict.get(entry, f"{key}_parsed")
    if parsed:
        return _when(calendar.timegm(parsed), result, where)
    return _when(dict.get(entry, key), result, where)


def parse_rss(body: bytes) -> PostingsResult:
    """RSS 2.0 / Atom job boards; entities are refused before feedparser sees the bytes."""
    import feedparser  # deferred: only RSS sources pay for importing it

    body = _check_body(body)
    if b"<!ENTITY" in body or b"<!entity" in body:
        raise FeedError("XML that declares entities is refused")
    if _is_html(body):
        raise FeedError("got an HTML page, not a feed")
    if body[:1] in (b"[", b"{"):
        raise FeedError("got JSON, not an RSS/Atom feed (use the json kind)")
    feed = feedparser.parse(io.BytesIO(body), sanitize_html=False, resolve_relative_uris=False)
    entries = feed.get("entries") or []
    if not feed.get("version") and not entries:
        problem = feed.get("bozo_exception")
        raise FeedError(f"not an RSS or Atom feed{f' ({str(problem)[:80]})' if problem else ''}")
    meta = feed.get("feed") or {}
    if any("arxiv.org" in str(v) for v in [*(feed.get("namespaces") or {}).values(), meta.get("id"), meta.get("link")]):
        raise FeedError("this is an arXiv paper feed, not a job feed (add it as a paper source instead)")
    result, seen, jobs = PostingsResult(), {}, 0
    for n, entry in enumerate(entries, 1):
        where = f"entry {n}"
        title = entry.get("title") if isinstance(entry.get("title"), str) else ""
        tags = [t.get("term") for t in entry.get("tags") or [] if isinstance(t.get("term"), str)]
        raw_summary = entry.get("summary") or entry.get("description") or ""
        raw_summary = raw_summary[:100000] if isinstance(raw_summary, str) else ""
        summary = strip_html(raw_summary)
        company = next((v for k, v in entry.items() if (k == "company" or k.endswith("_company")) and isinstance(v, str)), "")
        author = entry.get("author") if isinstance(entry.get("author"), str) else ""
        company = company or ("" if "@" in author else author)
        if company and title.startswith(company + ":"):
            title = title[len(company) + 1:]
        elif not company and ": " in title[:120]:
            company, title = title.split(": ", 1)
        flags = flag_countries(f"{company} {title}")
        locations = [t for t in tags if looks_like_place(t) and not parse_seasons(t)]
        locations += [v for k, v in entry.items() if k.endswith("location") and isinstance(v, str)]
        if not locations and (m := _LOCATION_LINE.search(html.unescape(raw_summary[:20000]))):
            locations = [m.group(1).strip(" .,;")]
        hints = " ".join(t for t in tags if t not in locations)
        published = _struct_iso(entry, "published", result, where)
        updated = _struct_iso(entry, "updated", result, where)
        jobs += bool(_JOBISH.search(title) or _POSITIVE.search(hints.lower()))
        _build(_Raw(
            where=where, source_id=entry.get("id") or entry.get("link") or "", company=company, title=title,
            locations=locations, remote=bool(re.search(r"\bremote\b", title, re.IGNORECASE)),
            season_texts=[title, *tags], hints=hints, description=summary, url=entry.get("link") or "",
            posted_at=published or updated, updated_at=updated, extra_places=flags,
        ), result, seen, trusted=False)
    if entries and not jobs:
        raise _none_usable(len(entries), "job")
    return result


# -- JSON job APIs ---------------------------------------------------------------------------------
_FIELDS: dict[str, tuple[str, ...]] = {
    "title": ("title", "position", "role", "job_title", "jobTitle", "text", "name"),
    "company": ("company", "company_name", "companyName", "organization", "organization_name", "employer",
                "employer_name", "hiringOrganization"),
    "locations": ("locations", "location", "candidate_required_location", "city", "categories.location",
                  "categories.allLocations", "job_location", "jobLocation", "offices"),
    "url": ("apply_url", "applyUrl", "absolute_url", "hostedUrl", "job_url", "jobUrl", "url", "link", "redirect_url"),
    "id": ("id", "uuid", "slug", "guid", "job_id", "jobId"),
    "posted_at": ("date_posted", "posted_at", "postedAt", "published_at", "publishedAt", "publication_date",
                  "first_published", "created_at", "createdAt", "date", "epoch", "pubDate"),
    "updated_at": ("updated_at", "updatedAt", "date_updated", "last_updated"),
    "description": ("description", "descriptionPlain", "summary", "content", "body", "job_description"),
    "tags": ("tags", "keywords", "skills", "categories"),
    "remote": ("remote", "is_remote", "isRemote", "workplaceType", "workplace_type"),
    "job_type": ("job_type", "jobType", "employment_type", "employmentType", "type", "commitment",
                 "categories.commitment", "contract_type"),
    "category": ("category", "department", "team", "categories.team", "categories.department", "departments"),
    "sponsorship": ("sponsorship", "visa_sponsorship", "visaSponsorship"),
    "terms": ("terms", "season", "seasons"),
    "degrees": ("degrees",),
    "active": ("active", "is_active", "isActive", "status"),
}
_LIST_KEYS = ("jobs", "data", "results", "items", "postings", "listings")
_ATS_URL = re.compile(r"https?://(?:jobs\.lever\.co|(?:job-)?boards(?:\.eu)?\.greenhouse\.io|jobs\.ashbyhq\.com"
                      r"|apply\.workable\.com|jobs\.smartrecruiters\.com)/([^/?#\s]+)", re.IGNORECASE)
_CLOSED = {"closed", "expired", "filled", "inactive", "archived", "false"}


def _find_list(data: Any) -> list[Any]:
    """The job list wherever the common APIs put it: top level, or under jobs/data/... (one level deep)."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for outer in (data, *(data[k] for k in _LIST_KEYS if isinstance(data.get(k), dict))):
            for key in _LIST_KEYS:
                if isinstance(outer.get(key), list):
                    return outer[key]
        raise FeedError(f"a JSON object with no job list (keys: {', '.join(list(map(str, data))[:8])[:120]})")
    raise FeedError(f"not a job feed: the JSON is a {type(data).__name__}")


def _json_entry(entry: dict[str, Any], fields: dict[str, tuple[str, ...]], result: PostingsResult, where: str) -> _Raw | None:
    """The first non-empty candidate of each field; None when the entry is not a job at all."""
    def get(name: str) -> Any:
        for path in fields[name]:
            value: Any = entry
            for part in path.split("."):  # dotted paths: "categories.location", "org.name"
                value = value.get(part) if isinstance(value, dict) else None
            if value not in (None, "", [], {}):
                return value
        return None

    title = get("title")
    title = title if isinstance(title, str) else None
    company = next(iter(_strings(get("company"))), "")
    locations, job_type = _strings(get("locations")), " ".join(_strings(get("job_type")))
    url = next((u for u in map(_http, _strings(get("url"))) if u), "")
    if not title or not (locations or job_type or url or (company and _JOBISH.search(title))):
        return None  # HF papers have a title and an organization too
    if not company and (m := _ATS_URL.match(url)):
        company = m.group(1)
    remote_value = get("remote")
    remote = (remote_value.strip().lower() in {"remote", "true", "yes", "fully remote"} if isinstance(remote_value, str)
              else _flag(remote_value, False, result, where))
    status = get("active")
    active = status.strip().lower() not in _CLOSED if isinstance(status, str) else _flag(status, True, result, where)
    description = get("description")
    tags = _strings(get("tags"))
    category = " ".join(_strings(get("category"))) or None
    raw_id = get("id")
    return _Raw(
        where=where, source_id=str(raw_id) if isinstance(raw_id, (str, int)) and not isinstance(raw_id, bool) else "",
        company=company, title=title, locations=locations, remote=remote, season_texts=_strings(get("terms")),
        source_category=category, hints=" ".join([job_type, *tags, category or ""])[:2000],
        description=strip_html(description) if isinstance(description, str) else "",
        sponsorship=get("sponsorship") if isinstance(get("sponsorship"), (str, bool)) else None,
        degrees=_strings(get("degrees")), url=url,
        posted_at=_when(get("posted_at"), result, f"{where} date"), updated_at=_when(get("updated_at"), result, f"{where} date"),
        active=active,
    )


def parse_json(body: bytes, mapping: dict[str, str] | None = None) -> PostingsResult:
    """JSON job APIs; ``mapping`` ({"title": "jobTitle", "company": "org.name"}) overrides field names."""
    fields = dict(_FIELDS)
    for name, path in (mapping or {}).items():
        key = {"location": "locations", "date": "posted_at", "season": "terms"}.get(name, name)
        if key not in fields or not isinstance(path, str) or not path:
            raise FeedError(f"mapping: unknown field {str(name)[:40]!r} (known: {', '.join(fields)})")
        fields[key] = (path,)
    entries = _find_list(_load_json(body))
    result, seen, jobs = PostingsResult(), {}, 0
    for n, entry in enumerate(entries, 1):
        where = f"entry {n}"
        if not isinstance(entry, dict):
            _note(result, f"{where}: {type(entry).__name__}, not an object; skipped")
            continue
        raw = _json_entry(entry, fields, result, where)
        if raw is None:
            if n > 1:
                _note(result, f"{where}: not a job posting (no title, or nothing but a title); skipped")
            continue
        jobs += 1
        _build(raw, result, seen, trusted=False)
    if entries and not jobs:
        raise _none_usable(len(entries), "job")
    return result


PARSERS: dict[str, Callable[[bytes], PostingsResult]] = {"simplify": parse_simplify, "rss": parse_rss, "json": parse_json}


def sniff_kind(body: bytes) -> str | None:
    """Best guess for a new source: cheap byte checks first, a JSON parse only when needed."""
    try:
        body = _check_body(body)
    except FeedError:
        return None
    head = body[:4096]
    if head[:1] == b"<":
        if _is_html(head) or b"arxiv.org" in head.lower():
            return None
        return "rss" if re.search(rb"<(?:rss|feed|rdf:RDF)\b", head) else None
    if head[:1] not in (b"[", b"{"):
        return None
    if head[:1] == b"[" and b'"is_visible"' in body[:65536] and b'"company_name"' in body[:65536]:
        return "simplify"
    try:
        parse_json(body)
    except FeedError:
        return None
    return "json"

