"""Location gazetteer: free-text job locations → canonical, lowercase, searchable place terms.

Students filter the way they talk ("canada", "nyc", "bay area", "remote"), while listings write
"Toronto, ON, Canada", "NYC", "US, CA, Santa Clara", "Remote in USA" or several places glued into
one string ("Atlanta, GA Chicago, IL"). Both sides go through the same vocabulary here, so the
caller only compares terms (or substrings of them).

Conventions (the ambiguous cases, decided once):

* Terms are lowercase, accents stripped, dots and apostrophes dropped, hyphens as spaces:
  "St. Louis" → "st louis", "Montréal" → "montreal".
* A city and its state/province/country are all terms: "NYC" → {"new york", "new york state",
  "usa"}; Bay Area cities add "bay area"; Los Angeles neighbourhoods add "los angeles".
* A state whose name is also a city gets " state": "new york state", "washington state".
  Washington, D.C. is the city "washington dc". In a location string, such a name is the city
  when it comes first ("New York, NY", "New York") and the state after a city ("Albany, New York").
  A bare "Washington" is the state (other bare state names are states too: "Texas", "Colorado").
* "CA" is California (the listings spell Canada out), unless the city is a known Canadian one.
  "LA" alone is Los Angeles, and so is ", LA" after a Los Angeles neighbourhood ("Canoga Park,
  LA"); after any other city it is Louisiana ("New Orleans, LA").
* Two-letter filter values are state/province codes ("on" → "ontario", "ny" → "new york state",
  "wa" → "washington state", "ca" → "california"), except the common "us", "uk", "la", "sf", "dc".
* Unknown cities are kept as their normalized text, so substring matching still works.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

US_STATES = dict(
    pair.replace("_", " ").split("=")
    for pair in (
        "al=alabama ak=alaska az=arizona ar=arkansas ca=california co=colorado ct=connecticut de=delaware "
        "fl=florida ga=georgia hi=hawaii id=idaho il=illinois in=indiana ia=iowa ks=kansas ky=kentucky "
        "la=louisiana me=maine md=maryland ma=massachusetts mi=michigan mn=minnesota ms=mississippi "
        "mo=missouri mt=montana ne=nebraska nv=nevada nh=new_hampshire nj=new_jersey nm=new_mexico "
        "ny=new_york_state nc=north_carolina nd=north_dakota oh=ohio ok=oklahoma or=oregon pa=pennsylvania "
        "ri=rhode_island sc=south_carolina sd=south_dakota tn=tennessee tx=texas ut=utah vt=vermont "
        "va=virginia wa=washington_state wv=west_virginia wi=wisconsin wy=wyoming pr=puerto_rico"
    ).split(" ")
)
PROVINCES = {
    "on": "ontario", "qc": "quebec", "bc": "british columbia", "ab": "alberta", "mb": "manitoba",
    "sk": "saskatchewan", "ns": "nova scotia", "nb": "new brunswick", "nl": "newfoundland and labrador",
    "pe": "prince edward island", "yt": "yukon", "nt": "northwest territories", "nu": "nunavut",
}
_REGION_COUNTRY = {name: "usa" for name in US_STATES.values()} | {name: "canada" for name in PROVINCES.values()}
# Full names as written → canonical state name (only the two city-named states differ).
_REGION_NAMES = {name: name for name in _REGION_COUNTRY} | {"new york": "new york state", "washington": "washington state"}

# canonical country: ISO code for flag emoji, then aliases as written (normalized).
_COUNTRY_TABLE = """
usa:us:us,u s,usa,u s a,united states,united states of america,america
canada:ca:canada
united kingdom:gb:uk,u k,united kingdom,great britain,britain,england,scotland,wales,northern ireland,gb
germany:de:deutschland|france:fr|india:in|china:cn|japan:jp|south korea:kr:korea,republic of korea
singapore:sg|australia:au|new zealand:nz|ireland:ie|netherlands:nl:the netherlands,holland
switzerland:ch|sweden:se|norway:no|denmark:dk|finland:fi|spain:es|italy:it|portugal:pt|poland:pl
israel:il|united arab emirates:ae:uae|brazil:br|mexico:mx|ukraine:ua|austria:at|belgium:be
czech republic:cz:czechia|hong kong:hk|taiwan:tw|romania:ro|vietnam:vn|philippines:ph|palestine:ps
"""
COUNTRIES: dict[str, str] = {}  # alias → canonical
FLAG_CODES: dict[str, str] = {}  # ISO 3166 alpha-2 → canonical
for _spec in _COUNTRY_TABLE.replace("\n", "|").split("|"):
    if _spec.strip():
        _name, _code, *_aliases = _spec.strip().split(":")
        FLAG_CODES[_code] = _name
        COUNTRIES[_name] = _name
        for _alias in (_aliases[0].split(",") if _aliases else []):
            COUNTRIES[_alias] = _name

# "country/region: city, city" — the common tech hubs; region "" when not worth a term; "*" = Bay Area.
_CITY_TABLE = """
usa/california*: san francisco, south san francisco, san jose, santa clara, sunnyvale, mountain view,
 palo alto, east palo alto, menlo park, redwood city, san mateo, foster city, san bruno, san carlos,
 burlingame, fremont, newark, milpitas, oakland, berkeley, emeryville, alameda, cupertino, los gatos,
 campbell, pleasanton, livermore, san ramon, walnut creek, hayward, belmont, brisbane
usa/california: los angeles, santa monica, culver city, el segundo, playa vista, pasadena, burbank, irvine, san diego, la jolla,
 sacramento, santa barbara, goleta, santa cruz, folsom
usa/washington state: seattle, redmond, bellevue, kirkland
usa/new york state: new york, albany, rochester, buffalo
usa/massachusetts: boston, cambridge, waltham, burlington, somerville, framingham, needham
usa/texas: austin, dallas, houston, plano, irving, san antonio, fort worth
usa/illinois: chicago|usa/georgia: atlanta|usa/colorado: denver, boulder|usa/oregon: portland, hillsboro
usa/pennsylvania: pittsburgh, philadelphia|usa/north carolina: raleigh, durham, charlotte, cary
usa/virginia: arlington, mclean, reston, herndon|usa/michigan: ann arbor, detroit|usa/utah: salt lake city, lehi
usa/minnesota: minneapolis|usa/arizona: phoenix, tempe, scottsdale|usa/florida: miami, tampa, orlando
usa/new jersey: jersey city, princeton|usa/: washington dc|usa/missouri: st louis
usa/wisconsin: madison, milwaukee|usa/maryland: baltimore, bethesda|usa/ohio: columbus, cleveland
canada/ontario: toronto, ottawa, waterloo, kitchener, mississauga, markham, north york
canada/quebec: montreal, quebec city|canada/british columbia: vancouver, burnaby, victoria, richmond
canada/alberta: calgary, edmonton|canada/manitoba: winnipeg|canada/nova scotia: halifax
united kingdom/: london, edinburgh, belfast, bristol, manchester, oxford
germany/: berlin, munich, hamburg, frankfurt|france/: paris|switzerland/: zurich, geneva, lausanne
netherlands/: amsterdam|ireland/: dublin|spain/: madrid, barcelona|sweden/: stockholm|denmark/: copenhagen
poland/: warsaw, krakow|israel/: tel aviv|ukraine/: kyiv|united arab emirates/: dubai|japan/: tokyo
india/: bengaluru, hyderabad, pune, mumbai, new delhi, delhi, gurugram, noida, chennai
china/: beijing, shanghai, shenzhen|hong kong/: hong kong|singapore/: singapore|south korea/: seoul
taiwan/: taipei|australia/: sydney, melbourne|new zealand/: auckland
"""
CITIES: dict[str, tuple[str, str]] = {}  # city → (region, country); the first listing of a name wins
_BAY: list[str] = []
for _group in _CITY_TABLE.replace("\n ", " ").replace("\n", "|").split("|"):
    if ":" in _group:
        _where, _names = _group.split(":", 1)
        _country, _region = _where.strip().split("/")
        for _city in (c.strip() for c in _names.split(",")):
            CITIES.setdefault(_city, (_region.rstrip("*"), _country))
            _BAY += [_city] if _region.endswith("*") else []
BAY_AREA = frozenset(_BAY)
CITY_ALIASES = {
    "nyc": "new york", "new york city": "new york", "manhattan": "new york", "brooklyn": "new york",
    "sf": "san francisco", "la": "los angeles", "bangalore": "bengaluru", "gurgaon": "gurugram",
    "saint louis": "st louis", "dc": "washington dc", "munchen": "munich",
}
LA_NEIGHBORHOODS = frozenset(
    "canoga park, sherman oaks, encino, northridge, hollywood, north hollywood, woodland hills, van nuys, "
    "studio city, westwood, venice, playa vista".split(", ")
)
_METROS = {"bay area": "bay area", "sf bay area": "bay area", "san francisco bay area": "bay area",
           "silicon valley": "bay area", "south bay": "bay area"}
_REMOTE = re.compile(r"\b(?:fully\s+)?(?:remote|anywhere|worldwide|work\s+from\s+home|wfh|telecommute)\b"
                     r"(?:\s*(?:in|within|from|only|first|-|:)\b)?", re.IGNORECASE)
_NOISE = re.compile(
    r"\b(?:multiple|all\s+locations|locations?|hybrid|on-?\s?site|in[\s-]office"
    r"|preferred|various|headquarters|hq|metro(?:plex)?)\b|\+\s*\d+\s*more",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"\s*(?:;|\||<br\s*/?>|\n|\s+or\s+|\s+l\s+|/)\s*", re.IGNORECASE)
_GLUED = re.compile(r"(?:(?<=\b[A-Z]{2})|(?<=\bUSA))\s+(?=[A-Z][a-z]|[A-Z]{2,}\b)")  # "Atlanta, GA Chicago, IL"
_CODE_PATH = re.compile(r"^([A-Z]{2})-([A-Z]{2})-(.+)$")  # "US-IL-Niles"
_DC = re.compile(r"\bwashington\s*,?\s*d\.?\s?c\b\.?|\bd\.c\.", re.IGNORECASE)


def _norm(text: str) -> str:
    """One spelling per place: case, accents, dots and hyphens must not decide a match."""
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = re.sub(r"[.'’`]", "", text.lower())
    return " ".join(re.sub(r"[^a-z0-9&+ ]+", " ", text).split())


_CODES = US_STATES | PROVINCES
_CANONICAL_REGIONS = frozenset(_REGION_NAMES.values())
_SKIP = frozenset({"all", "tbd", "na", "n a", "none", "unknown", "other"})


def _part(norm: str, words: list[str], first: bool) -> list[tuple[str, str]]:
    """Classifies one comma-separated part as (kind, value); peels a trailing code off "Boston MA"."""
    if not norm or norm in _SKIP:
        return []
    if norm in COUNTRIES:
        return [("country", COUNTRIES[norm])]
    if len(norm) == 2 and norm in _CODES and not (first and norm in CITY_ALIASES):
        return [("code", norm)]  # "LA" first is Los Angeles, after a city a code (see _resolve)
    if norm in _REGION_NAMES and not (first and norm in CITIES):
        return [("region", _REGION_NAMES[norm])]  # "New York" first = the city
    if norm in _METROS:
        return [("metro", _METROS[norm])]
    if norm in CITY_ALIASES or norm in CITIES:
        return [("city", CITY_ALIASES.get(norm, norm))]
    if len(words) > 1:
        last, tail = words[-1], _norm(words[-1])
        if (len(last) == 2 and last.isupper() and tail in _CODES) or tail in COUNTRIES:
            return _part(_norm(" ".join(words[:-1])), words[:-1], first) + _part(tail, [last], False)
    return [("city", norm)] if len(norm) > 1 else []


def _resolve(parts: list[tuple[str, str]]) -> tuple[list[str], str, bool]:
    """Terms, the main city, and whether anything was recognized, for one place."""
    cities = [v for k, v in parts if k == "city"]
    regions = [v for k, v in parts if k == "region"]
    countries = [v for k, v in parts if k == "country"]
    metros = [v for k, v in parts if k == "metro"]
    codes = [v for k, v in parts if k == "code"]
    known = bool(regions or countries or metros or codes) or any(c in CITIES for c in cities)
    for code in codes:
        if code == "ca" and (any(CITIES.get(c, ("", ""))[1] == "canada" for c in cities) or "canada" in countries):
            countries.append("canada")
        elif code == "la" and (not cities or any(c in LA_NEIGHBORHOODS for c in cities)):
            (metros if cities else cities).append("los angeles")
            regions.append("california")
        else:
            regions.append(US_STATES.get(code) or PROVINCES[code])
    said_regions, said_countries = list(regions), list(countries)
    for city in cities:
        region, country = CITIES.get(city, ("", ""))
        if country and (not said_regions or region in said_regions) and (not said_countries or country in said_countries):
            regions += [region] if region else []
            countries.append(country)
    countries += [_REGION_COUNTRY[r] for r in regions if r in _REGION_COUNTRY]
    if "california" in regions:
        metros += ["bay area"] if any(c in BAY_AREA for c in cities) else []
        metros += ["los angeles"] if any(c in LA_NEIGHBORHOODS for c in cities) else []
    if "bay area" in metros:
        regions.append("california")
        countries.append("usa")
    return cities + metros + regions + countries, (cities[0] if cities else ""), known


@lru_cache(maxsize=8192)
def _parse(location: str) -> tuple[tuple[str, ...], str, bool, bool]:
    """(terms, first city, recognized, remote) — cached: listings repeat a few hundred strings."""
    text = location[:300]
    remote = bool(_REMOTE.search(text))
    text = _REMOTE.sub(",", text) if remote else text
    text = _DC.sub(" Washington DC ", _NOISE.sub(" ", text))
    terms: list[str] = ["remote"] if remote else []
    city, known = "", remote
    for segment in _SEPARATORS.split(text):
        for place in _GLUED.split(segment):
            place = _CODE_PATH.sub(r"\3, \2, \1", place.strip(" ,-"))
            chunks = [c.strip() for c in re.split(r",|\(|\)|\s-\s", place) if c.strip(" .-")]
            parts = [p for i, c in enumerate(chunks) for p in _part(_norm(c), c.split(), i == 0)]
            found, first_city, recognized = _resolve(parts)
            terms += found
            city, known = city or first_city, known or recognized
    return tuple(dict.fromkeys(terms)), city, known, remote


def place_terms(location: str) -> set[str]:
    """Canonical terms for one location string; empty for empty or non-text input."""
    return set(_parse(location)[0]) if isinstance(location, str) else set()


def place_city(location: str) -> str:
    """The main city's canonical name ("" when the string names none): the dedupe key's place."""
    return _parse(location)[1] if isinstance(location, str) else ""


def looks_like_place(text: str) -> bool:
    """True when the text names a known place or says remote: tells a location tag from a topic tag."""
    return isinstance(text, str) and _parse(text)[2]


def is_remote(location: str) -> bool:
    return isinstance(location, str) and _parse(location)[3]


def flag_countries(text: str) -> list[str]:
    """Countries of flag emoji (🇨🇦 → "canada"): feeds put them in titles instead of a location."""
    found = []
    for pair in re.findall("[\U0001F1E6-\U0001F1FF]{2}", text):
        code = "".join(chr(ord(c) - 0x1F1E6 + ord("a")) for c in pair)
        if code in FLAG_CODES and FLAG_CODES[code] not in found:
            found.append(FLAG_CODES[code])
    return found


_FILTER_SPECIAL = {"ca": "california", "la": "los angeles", "dc": "washington dc", "us": "usa", "uk": "united kingdom"}


def canonical_place(value: str) -> str:
    """What a filter value means, in place_terms' vocabulary (see the module docstring)."""
    raw = value if isinstance(value, str) else ""
    norm = _norm(raw.replace("-", " ").replace("_", " "))
    if norm in _FILTER_SPECIAL:
        return _FILTER_SPECIAL[norm]
    if _REMOTE.fullmatch(norm) or norm == "remote":
        return "remote"
    if norm in CITIES and norm in _REGION_NAMES:
        return norm  # "new york" = the city; "new york state" for the state
    for table in (COUNTRIES, _REGION_NAMES, _METROS, CITY_ALIASES):
        if norm in table:
            return table[norm]
    if len(norm) == 2 and norm in _CODES:
        return US_STATES.get(norm) or PROVINCES[norm]
    if norm in CITIES or norm in _CANONICAL_REGIONS:
        return norm
    terms, city, known, remote = _parse(raw)
    return (city or ("remote" if remote else terms[0])) if known and terms else norm
