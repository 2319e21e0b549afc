"""The job parsers on the real SimplifyJobs file (tests/fixtures/jobs, copied unmodified from
shared/samples), on hand-made samples built to the real RSS/Atom/RemoteOK/Greenhouse/Lever shapes,
and on hostile input: none may crash, and none may turn a non-internship into a posting."""

from __future__ import annotations

import collections
import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from feeds.places import canonical_place, is_remote, place_terms
from feeds.postings import (
    CATEGORIES,
    DEGREES,
    KINDS,
    MAX_BODY,
    PARSERS,
    SPONSORSHIP,
    FeedError,
    Posting,
    classify_category,
    is_internship,
    normalize_sponsorship,
    normalize_title,
    parse_degrees,
    parse_json,
    parse_rss,
    parse_seasons,
    parse_simplify,
    sniff_kind,
)

FIXTURES = Path(__file__).parent / "fixtures" / "jobs"
SIMPLIFY = "simplify_listings_2024-11-15.json"


def sample(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="module")
def simplify_raw() -> list[dict]:
    return json.loads(sample(SIMPLIFY))


@pytest.fixture(scope="module")
def simplify():
    return parse_simplify(sample(SIMPLIFY))


def by_title(result, title: str) -> Posting:
    return next(item for item in result.items if item.title == title)


def reasons(result) -> dict[str, str]:
    return {r.title: r.reason for r in result.rejected}


# -- the real SimplifyJobs file ---------------------------------------------------------------------
def test_simplify_counts(simplify, simplify_raw) -> None:
    assert len(simplify_raw) == 6497
    assert simplify.errors == []
    assert len(simplify.items) + len(simplify.rejected) == 6497  # the 2 duplicated ids are different roles: both kept
    counted = collections.Counter(r.reason for r in simplify.rejected)
    assert counted == {
        "hidden (is_visible=false)": 651,
        "not an internship (senior role)": 3,
        "not an internship (full-time role)": 4,
    }
    assert sum(1 for e in simplify_raw if e["is_visible"] is False) == 651
    assert len(simplify.items) == 5839
    assert sum(not item.active for item in simplify.items) == 4733  # closed: kept, marked inactive


def test_simplify_every_item_is_well_formed(simplify) -> None:
    ids = [item.source_id for item in simplify.items]
    assert len(set(ids)) == len(ids)
    for item in simplify.items:
        assert item.company and item.title and item.title == item.title.strip()
        assert len(item.company) <= 200 and len(item.title) <= 300
        assert item.category in CATEGORIES and item.sponsorship in SPONSORSHIP
        assert set(item.degrees) <= set(DEGREES)
        assert item.url == "" or item.url.startswith(("https://", "http://"))
        assert item.posted_at and datetime.fromisoformat(item.posted_at).utcoffset().total_seconds() == 0
        assert all(re.fullmatch(r"(winter|spring|summer|fall)-20\d\d", s) for s in item.seasons)
        assert item.places == sorted(set(item.places))
        assert list(item.to_dict()) == ["id", "company", "title", "locations", "remote", "season", "category",
                                        "sponsorship", "degrees", "url", "posted_at", "active"]


def test_simplify_fields_follow_the_raw_entries(simplify, simplify_raw) -> None:
    raw = {e["id"]: e for e in simplify_raw}
    mapping = {"Offers Sponsorship": "yes", "Does Not Offer Sponsorship": "no",
               "U.S. Citizenship is Required": "citizens-only", "Other": "unknown"}
    for item in simplify.items:
        entry = raw[item.source_id.split("#")[0]]
        assert item.active is entry["active"]
        assert item.sponsorship == mapping[entry["sponsorship"]]
        if entry["terms"]:
            assert item.seasons and item.season == item.seasons[0]
            assert item.seasons == parse_seasons(*entry["terms"])
    kept = {item.source_id for item in simplify.items}
    expected = collections.Counter(mapping[e["sponsorship"]] for e in simplify_raw if e["id"] in kept)
    assert collections.Counter(item.sponsorship for item in simplify.items) == expected
    assert expected["yes"] > 400 and expected["citizens-only"] > 60


def test_simplify_duplicate_ids_get_distinct_source_ids(simplify) -> None:
    for dup in ("93daaebb-7a2b-49d3-ad4a-3f1af4aeb043", "9108e1a7-944c-437a-9eee-142aa4cc6784"):
        items = [i for i in simplify.items if i.source_id.split("#")[0] == dup]
        assert len(items) == 2 and items[0].source_id == dup and re.fullmatch(dup + r"#[0-9a-f]{8}", items[1].source_id)
        assert items[0].dedupe_key() != items[1].dedupe_key()
    again = parse_simplify(sample(SIMPLIFY))  # stable across runs
    assert [i.source_id for i in again.items] == [i.source_id for i in simplify.items]


def test_simplify_no_senior_or_full_time_items(simplify) -> None:
    senior_first = re.compile(r"^(?:\d{4}\s+)?(?:senior|sr\.?|staff|principal|lead (?:engineer|developer|scientist))\b",
                              re.IGNORECASE)
    for item in simplify.items:
        assert not senior_first.search(item.title), item.title
        if re.search(r"\bnew (?:college )?grad\b|\bfull[ -]time\b", item.title, re.IGNORECASE):  # "Intern - Full time preferred"
            assert re.search(r"\bintern(ship)?s?\b|\bco-?op\b", item.title, re.IGNORECASE), item.title
    rejected = reasons(simplify)
    assert rejected["Staff Research Scientist, Intern - Summer 2024"] == "not an internship (senior role)"
    assert rejected["Full-Stack Engineer Summer 2024 New Grad"] == "not an internship (full-time role)"
    # trusted source: titles without "intern" are still internships; "senior" as a school year is fine
    titles = {item.title for item in simplify.items}
    assert {"Software Engineer", "Back End Developer", "Microsoft Explore", "2024 Winternship"} <= titles
    assert "Software Engineering Intern (undergraduate senior only)" in titles


def test_simplify_sample_items(simplify) -> None:
    last = simplify.items[-1]
    assert last.to_dict() == {
        "id": "cc9537be-5e68-4eab-8e0b-baf9c7261b3a", "company": "The Trade Desk", "title": "2025 Technical Business Intern",
        "locations": [], "remote": False, "season": "summer-2025", "category": "other", "sponsorship": "unknown",
        "degrees": [], "url": "https://boards.greenhouse.io/thetradedesk/jobs/4583419007",
        "posted_at": "2024-11-15T19:30:57+00:00", "active": True,
    }
    first = simplify.items[0]
    assert (first.company, first.title, first.locations) == ("Capital One", "Product Development Intern", ["McLean, VA", "Plano, TX"])
    assert first.active is False and first.sponsorship == "no" and {"mclean", "virginia", "plano", "texas", "usa"} <= set(first.places)
    remote = [i for i in simplify.items if i.locations == ["Remote in USA"]]
    assert remote and all(i.remote and i.places == ["remote", "usa"] for i in remote)
    nyc = [i for i in simplify.items if i.locations == ["NYC"]]
    assert nyc and all({"new york", "usa"} <= set(i.places) for i in nyc)
    flagged = [i for i in simplify.items if "Federal - Software Engineering Intern" in i.title]
    assert flagged and all(i.title == "Federal - Software Engineering Intern" for i in flagged)  # 🇺🇸 stripped


# -- RSS / Atom -------------------------------------------------------------------------------------
def test_rss_job_board() -> None:
    result = parse_rss(sample("rss_jobs_board.xml"))
    assert [i.company for i in result.items] == ["Acme AI", "Maple Robotics", "Pied Piper", "Quant Works", "Umbrella Corp",
                                                 "Wayne Enterprises"]
    assert reasons(result) == {
        "Senior Software Engineer, Platform": "not an internship (senior role)",
        "Account Executive, Mid-Market": "not an internship (sales role)",
        "Software Engineer (Full-time)": "not an internship (full-time role)",
        "Internal Tools Engineer": "not an internship (no intern/co-op in the title)",
    }
    assert result.errors == ["entry 7: unreadable date 'not a date'"]
    ml = by_title(result, "Machine Learning Intern (Summer 2025)")
    assert ml.to_dict() == {
        "id": "sjb-10001", "company": "Acme AI", "title": "Machine Learning Intern (Summer 2025)",
        "locations": ["Toronto, ON, Canada"], "remote": False, "season": "summer-2025", "category": "ai-ml",
        "sponsorship": "yes", "degrees": ["masters", "phd"],
        "url": "https://jobs.example.org/acme-ai/machine-learning-intern-summer-2025",
        "posted_at": "2024-11-15T19:30:57+00:00", "active": True,
    }
    assert ml.places == ["canada", "ontario", "toronto"]
    coop = by_title(result, "Software Engineering Co-op - Fall 2025")  # flag stripped, location from the HTML
    assert coop.locations == ["Waterloo, ON"] and coop.posted_at == "2024-11-14T13:00:00+00:00"
    assert (coop.season, coop.category, coop.degrees) == ("fall-2025", "software", ["bachelors"])
    piper = by_title(result, "Data Science Intern – Summer/Fall 2025 (Remote)")
    assert piper.seasons == ["summer-2025", "fall-2025"] and piper.remote and piper.sponsorship == "citizens-only"
    quant = by_title(result, "Quantitative Trader Intern")
    assert (quant.url, quant.posted_at, quant.season, quant.sponsorship) == ("", None, "summer-2026", "no")
    umbrella = by_title(result, "Data Science Intern")  # company from dc:creator, season "2025 Summer"
    assert umbrella.company == "Umbrella Corp" and umbrella.season == "summer-2025" and "united kingdom" in umbrella.places
    wayne = by_title(result, "International Relations Intern")  # zero-width space gone, 🇩🇪 → a place
    assert wayne.places == ["germany"] and wayne.source_id == "https://jobs.example.org/wayne/international-relations-intern"


def test_atom_job_feed() -> None:
    result = parse_rss(sample("atom_jobs.xml"))
    assert reasons(result) == {"Engineering Manager, Intern Program": "not an internship (runs the intern program)",
                               "Staff ML Engineer": "not an internship (senior role)"}
    nlp, fpga = result.items
    assert (nlp.company, nlp.source_id, nlp.remote, nlp.category, nlp.sponsorship) == (
        "Vandelay Industries", "urn:vandelay:job:501", True, "ai-ml", "yes")
    assert (nlp.posted_at, nlp.updated_at, nlp.degrees) == ("2024-11-10T12:00:00+00:00", "2024-11-12T07:30:00+00:00", ["phd"])
    assert (fpga.category, fpga.season, fpga.degrees) == ("hardware", "winter-2026", ["bachelors", "masters"])
    assert fpga.places == ["bay area", "california", "santa clara", "usa"]


def test_arxiv_feed_given_to_rss_is_refused_clearly() -> None:
    # Chosen over "all rejected": a moderator reads at once that the source is in the wrong list.
    with pytest.raises(FeedError, match="arXiv paper feed, not a job feed"):
        parse_rss(sample("not_jobs_arxiv_api.xml"))
    with pytest.raises(FeedError, match="not JSON"):
        parse_json(sample("not_jobs_arxiv_api.xml"))


def test_rss_entries_that_are_not_jobs_raise() -> None:
    blog = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>'
            b"<item><title>Why we rewrote our parser</title><link>https://blog.example/1</link></item>"
            b"<item><title>Notes from a conference</title><link>https://blog.example/2</link></item></channel></rss>")
    with pytest.raises(FeedError, match="none of the 2 entries looks like a job posting"):
        parse_rss(blog)


# -- JSON job APIs ----------------------------------------------------------------------------------
def test_remoteok_api() -> None:
    result = parse_json(sample("remoteok_api.json"))
    assert result.errors == []  # the leading legal notice is skipped silently
    assert reasons(result) == {"Senior Backend Engineer": "not an internship (senior role)",
                               "Account Executive": "not an internship (sales role)",
                               "Software Engineer": "not an internship (full-time role)"}
    ml, data = result.items
    assert ml.to_dict() == {
        "id": "1090001", "company": "Acme AI", "title": "Machine Learning Intern", "locations": ["Worldwide"],
        "remote": True, "season": "summer-2025", "category": "ai-ml", "sponsorship": "unknown", "degrees": ["masters"],
        "url": "https://remoteok.com/remote-jobs/remote-machine-learning-intern-acme-ai-1090001",
        "posted_at": "2024-11-15T17:00:00+00:00", "active": True,
    }
    # no "intern" in the title, but tagged "internship": accepted from the tags
    assert (data.title, data.season, data.sponsorship, data.degrees, data.places) == (
        "Data Engineer", "fall-2025", "no", ["bachelors"], ["canada"])


def test_greenhouse_board() -> None:
    result = parse_json(sample("greenhouse_board.json"))
    assert result.errors == []
    assert reasons(result) == {"Engineering Manager, Infrastructure": "not an internship (senior role)",
                               "Sales Development Representative": "not an internship (sales role)"}
    swe, cv = result.items
    assert (swe.source_id, swe.company, swe.locations, swe.season) == ("4583419007", "Acme AI, Inc.", ["New York, NY"], "summer-2025")
    assert (swe.posted_at, swe.updated_at) == ("2024-11-01T13:00:00+00:00", "2024-11-14T17:03:01+00:00")
    assert (swe.sponsorship, swe.degrees) == ("no", ["bachelors"])  # from the escaped HTML content
    assert (cv.category, cv.degrees, cv.season) == ("ai-ml", ["phd"], None)


def test_lever_postings() -> None:
    result = parse_json(sample("lever_postings.json"))
    assert reasons(result) == {"Software Engineer": "not an internship (full-time role)",
                               "Sales Development Representative": "not an internship (sales role)"}
    ml, fw = result.items
    assert (ml.company, ml.locations, ml.season, ml.category, ml.degrees) == (
        "maplerobotics", ["Toronto, ON"], "winter-2026", "ai-ml", ["masters", "phd"])
    assert ml.posted_at == "2024-11-15T17:00:00+00:00"  # createdAt in milliseconds
    assert ml.url == "https://jobs.lever.co/maplerobotics/5ac21346-8e0c-4494-8e7a-3eb92ff77902/apply"
    assert (fw.title, fw.category, fw.places) == ("Firmware Developer", "hardware", ["canada", "montreal", "quebec"])


def test_json_nested_list_and_mapping() -> None:
    nested = {"data": {"jobs": [{"title": "AI Intern", "company": {"name": "Nested Co"}, "locations": [{"name": "Berlin"}]}]}}
    item = parse_json(json.dumps(nested).encode()).items[0]
    assert (item.company, item.locations, item.places) == ("Nested Co", ["Berlin"], ["berlin", "germany"])
    odd = [{"jobTitle": "Quant Research Intern", "org": {"name": "Odd LLC"}, "where": "Zurich", "when": "2024-11-15",
            "ref": 7, "kind": "Internship"}]
    mapping = {"title": "jobTitle", "company": "org.name", "location": "where", "date": "when", "id": "ref"}
    item = parse_json(json.dumps(odd).encode(), mapping).items[0]
    assert (item.title, item.company, item.locations, item.source_id) == ("Quant Research Intern", "Odd LLC", ["Zurich"], "7")
    assert (item.posted_at, item.category, item.places) == ("2024-11-15T00:00:00+00:00", "quant", ["switzerland", "zurich"])
    with pytest.raises(FeedError, match="mapping: unknown field 'salary'"):
        parse_json(b"[]", {"salary": "pay"})


def test_sniff_kind() -> None:
    assert sniff_kind(sample(SIMPLIFY)) == "simplify"
    assert sniff_kind(sample("rss_jobs_board.xml")) == "rss" and sniff_kind(sample("atom_jobs.xml")) == "rss"
    for name in ("remoteok_api.json", "greenhouse_board.json", "lever_postings.json"):
        assert sniff_kind(sample(name)) == "json"
    for body in (sample("not_jobs_arxiv_api.xml"), sample("not_jobs_hf_daily.json"), b"<!DOCTYPE html><html></html>",
                 b"", b"hello", b'{"status": "ok"}'):
        assert sniff_kind(body) is None
    assert set(PARSERS) == set(KINDS)


# -- tables -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("title", [
    "Summer Analyst", "Technology Summer Analyst Program", "Software Engineering Co-op", "Coop - Data", "Co Op Student",
    "Machine Learning Intern", "Research Internship", "Software Apprentice", "Apprenticeship, Cloud", "Student Researcher",
    "Working Student AI", "Industrial Placement - Data", "Industrial Trainee", "International Relations Intern",
    "Summer 2025 Intern: Sr. Data Scientist", "Engineering Interns", "Software Engineering Intern (undergraduate senior only)",
])
def test_is_internship_positive(title: str) -> None:
    assert is_internship(title) is None


@pytest.mark.parametrize(("title", "reason"), [
    ("Sales Representative", "sales role"), ("Account Executive", "sales role"),
    ("Senior Software Engineer", "senior role"), ("Staff ML Engineer", "senior role"), ("Engineering Manager", "senior role"),
    ("Senior Manager, Intern Program", "senior role"), ("Principal Scientist", "senior role"),
    ("Software Engineer, Full-time", "full-time role"), ("New Grad Software Engineer", "full-time role"),
    ("Internal Audit Analyst", "no intern/co-op in the title"), ("Internal Tools Engineer", "no intern/co-op in the title"),
    ("Software Engineer", "no intern/co-op in the title"),
])
def test_is_internship_negative(title: str, reason: str) -> None:
    assert is_internship(title) == f"not an internship ({reason})"


def test_is_internship_trust_and_hints() -> None:
    for title in ("Software Engineer", "Algorithmic Trader", "Technology Summer Analyst Program", "Apprenticeship"):
        assert is_internship(title, trusted=True) is None
    assert is_internship("Senior Software Engineer", trusted=True) == "not an internship (senior role)"
    assert is_internship("Software Engineer", hints="Internship") is None
    assert is_internship("Software Engineer", hints="Full-time") == "not an internship (full-time role)"
    assert is_internship("") == "no title"


@pytest.mark.parametrize(("title", "source", "expected"), [
    ("Machine Learning Engineer Intern", None, "ai-ml"), ("ML Intern", None, "ai-ml"), ("AI/ML Intern", None, "ai-ml"),
    ("Deep Learning Research Intern", None, "ai-ml"), ("NLP Intern", None, "ai-ml"), ("Computer Vision Intern", None, "ai-ml"),
    ("LLM Inference Intern", None, "ai-ml"), ("Applied Scientist Intern", None, "ai-ml"),
    ("Research Scientist Intern, Artificial Intelligence", None, "ai-ml"), ("Data Scientist Intern", None, "data"),
    ("Data Analyst Intern", None, "data"), ("Analytics Intern", None, "data"), ("Data Engineer Intern", None, "data"),
    ("Quantitative Research Intern", None, "quant"), ("Trading Intern", None, "quant"), ("Quant Intern", None, "quant"),
    ("FPGA Engineer Intern", None, "hardware"), ("ASIC Design Intern", None, "hardware"), ("Firmware Intern", None, "hardware"),
    ("Electrical Engineering Intern", None, "hardware"), ("Software Engineer Intern", None, "software"),
    ("Backend Developer Intern", None, "software"), ("iOS Intern", None, "software"), ("DevOps Intern", None, "software"),
    ("Email Marketing Intern", None, "other"), ("Mainframe Operations Intern", None, "other"),
    ("Quantum Computing Intern", None, "other"),
    ("Research Intern", "AI/ML/Data", "ai-ml"), ("Research Intern", "Data Science", "data"),
    ("Engineering Intern", "Software Engineering", "software"), ("Engineering Intern", "Quant", "quant"),
    ("Engineering Intern", "Hardware Engineering", "hardware"), ("Engineering Intern", "Product", "other"),
    ("ML Engineer Intern", "Software", "ai-ml"),
])
def test_classify_category(title: str, source: str | None, expected: str) -> None:
    assert classify_category(title, source) == expected


@pytest.mark.parametrize(("value", "text", "expected"), [
    ("Offers Sponsorship", "", "yes"), ("Does Not Offer Sponsorship", "", "no"),
    ("U.S. Citizenship is Required", "", "citizens-only"), ("Other", "", "unknown"), (None, "", "unknown"),
    (None, "Visa sponsorship available for this role.", "yes"), (None, "We will sponsor H-1B.", "yes"),
    (None, "No sponsorship.", "no"), (None, "We are unable to sponsor visas.", "no"),
    (None, "Candidates must be authorized to work without sponsorship.", "no"), (None, "We will not sponsor.", "no"),
    (None, "U.S. citizens only.", "citizens-only"), (None, "US citizenship required; no sponsorship", "citizens-only"),
    (None, "Security clearance required.", "citizens-only"), (None, "Great team!", "unknown"),
])
def test_normalize_sponsorship(value: str | None, text: str, expected: str) -> None:
    assert normalize_sponsorship(value, text) == expected


@pytest.mark.parametrize(("texts", "expected"), [
    (("Summer 2027",), ["summer-2027"]), (("Fall 2026",), ["fall-2026"]), (("Autumn 2026",), ["fall-2026"]),
    (("Winter 2025",), ["winter-2025"]), (("Spring 2026",), ["spring-2026"]), (("Summer '27",), ["summer-2027"]),
    (("2027 Summer",), ["summer-2027"]), (("Summer/Fall 2025",), ["summer-2025", "fall-2025"]),
    (("Fall 2025 - Spring 2026",), ["fall-2025", "spring-2026"]),
    (("Summer 2024", "Fall 2024", "Winter 2025"), ["summer-2024", "fall-2024", "winter-2025"]),
    (("SWE Intern - Summer 2025", "Summer 2025"), ["summer-2025"]), (("Summer Analyst",), []), (("2025",), []),
    (("Summer Internship 2026",), ["summer-2026"]),
])
def test_parse_seasons(texts: tuple[str, ...], expected: list[str]) -> None:
    assert parse_seasons(*texts) == expected


@pytest.mark.parametrize(("values", "text", "expected"), [
    (["Bachelor's", "Master's", "PhD"], "", ["bachelors", "masters", "phd"]), (["Master's"], "", ["masters"]),
    ([], "PhD Research Intern", ["phd"]), ([], "Ph.D. students", ["phd"]), ([], "Open to Master's students", ["masters"]),
    ([], "MS students in CS", ["masters"]), ([], "MS/PhD Intern", ["masters", "phd"]), ([], "M.S. candidates", ["masters"]),
    ([], "Bachelor's degree", ["bachelors"]), ([], "BS in CS", ["bachelors"]), ([], "BS/MS students", ["bachelors", "masters"]),
    ([], "Undergraduate Research Intern", ["bachelors"]), ([], "MS Office Intern", []), ([], "Intern, MS Teams", []),
    ([], "Software Engineer Intern", []),
])
def test_parse_degrees(values: list[str], text: str, expected: list[str]) -> None:
    assert parse_degrees(values, text) == expected


def test_simplify_2025_fields() -> None:
    """Newer files add category and degrees; unknown values fall back, unknown keys are ignored."""
    entries = [{"id": "n1", "company_name": "Acme", "title": "Research Intern", "category": "AI/ML/Data",
                "degrees": ["Master's", "PhD"], "terms": ["Summer 2026"], "is_visible": True, "active": True,
                "sponsorship": "Offers Sponsorship", "locations": ["Toronto, ON, Canada"], "new_field": {"x": 1}},
               {"id": "n2", "company_name": "Acme", "title": "Engineering Intern", "category": "Something New",
                "degrees": [], "terms": ["Fall 2026"], "is_visible": True}]
    first, second = parse_simplify(json.dumps(entries).encode()).items
    assert (first.category, first.degrees, first.season, first.sponsorship) == ("ai-ml", ["masters", "phd"], "summer-2026", "yes")
    assert (second.category, second.degrees, second.sponsorship, second.active) == ("other", [], "unknown", True)


PLACES = {
    "Remote in USA": {"remote", "usa"}, "Remote in Canada": {"remote", "canada"}, "Remote": {"remote"},
    "NYC": {"new york", "new york state", "usa"}, "SF": {"san francisco", "california", "usa", "bay area"},
    "New York, NY": {"new york", "new york state", "usa"}, "Santa Clara, CA": {"santa clara", "california", "usa", "bay area"},
    "Ottawa, ON, Canada": {"ottawa", "ontario", "canada"}, "Toronto, ON, Canada": {"toronto", "ontario", "canada"},
    "Montreal, QC, Canada": {"montreal", "quebec", "canada"}, "Cambridge, UK": {"cambridge", "united kingdom"},
    "US, CA, Santa Clara": {"santa clara", "california", "usa", "bay area"}, "United States": {"usa"},
    "Canoga Park, LA": {"canoga park", "los angeles", "california", "usa"},
    "Research Triangle Park, NC": {"research triangle park", "north carolina", "usa"},
    "New Orleans, LA": {"new orleans", "louisiana", "usa"}, "LA": {"los angeles", "california", "usa"},
    "Cambridge, MA": {"cambridge", "massachusetts", "usa"}, "Seattle, WA": {"seattle", "washington state", "usa"},
    "Washington, DC": {"washington dc", "usa"}, "Albany, New York": {"albany", "new york state", "usa"},
    "Vancouver, BC, Canada": {"vancouver", "british columbia", "canada"}, "Vancouver, WA": {"vancouver", "washington state", "usa"},
    "Montréal, Québec": {"montreal", "quebec", "canada"}, "London": {"london", "united kingdom"},
    "Bangalore, India": {"bengaluru", "india"}, "Boston MA": {"boston", "massachusetts", "usa"},
    "Dallas, TX or Scottsdale, AZ": {"dallas", "texas", "scottsdale", "arizona", "usa"},
    "Atlanta, GA Chicago, IL": {"atlanta", "georgia", "chicago", "illinois", "usa"},
    "Multiple US Locations": {"usa"}, "Springfield, MO": {"springfield", "missouri", "usa"}, "Hamlet": {"hamlet"},
    "": set(),
}


@pytest.mark.parametrize("location", list(PLACES))
def test_place_terms(location: str) -> None:
    assert place_terms(location) == PLACES[location]


@pytest.mark.parametrize(("value", "expected"), [
    ("canada", "canada"), ("Canada", "canada"), ("usa", "usa"), ("us", "usa"), ("united-states", "usa"), ("u.s.", "usa"),
    ("nyc", "new york"), ("new-york", "new york"), ("new york", "new york"), ("New York State", "new york state"),
    ("ny", "new york state"), ("sf", "san francisco"), ("bay-area", "bay area"), ("uk", "united kingdom"),
    ("london", "london"), ("ontario", "ontario"), ("on", "ontario"), ("ca", "california"), ("california", "california"),
    ("remote", "remote"), ("washington", "washington state"), ("dc", "washington dc"), ("la", "los angeles"),
    ("bangalore", "bengaluru"), ("Toronto, ON", "toronto"), ("Some-Town", "some town"),
])
def test_canonical_place(value: str, expected: str) -> None:
    assert canonical_place(value) == expected


def test_every_filter_value_matches_the_listing_terms() -> None:
    for location, value in [("NYC", "new york"), ("New York, NY", "nyc"), ("SF", "bay area"), ("Santa Clara, CA", "bay-area"),
                            ("Toronto, ON, Canada", "canada"), ("Ottawa, ON, Canada", "on"), ("Remote in USA", "us"),
                            ("Remote in USA", "remote"), ("Cambridge, UK", "uk"), ("US, CA, Santa Clara", "ca")]:
        assert canonical_place(value) in place_terms(location), (location, value)
    assert is_remote("Remote in Canada") and is_remote("Remote (U.S.)") and not is_remote("Toronto, ON, Canada")


def test_normalize_title_and_dedupe_across_sources() -> None:
    assert normalize_title("Software Engineer Intern - Summer 2025") == "software engineer intern"
    assert normalize_title("Software Engineer Intern (Summer 2025)") == "software engineer intern"
    assert normalize_title("2025 Software Engineer Intern") == "software engineer intern"
    assert normalize_title("Summer 2025 Software Engineer Intern") == "software engineer intern"
    assert normalize_title("Software Engineer Intern – Summer/Fall '25") == "software engineer intern"
    assert normalize_title("Summer Analyst") == "summer analyst"
    simplify = json.dumps([{"id": "s1", "company_name": "Acme AI", "title": "Software Engineer Intern - Summer 2025",
                            "locations": ["NYC"], "terms": ["Summer 2025"], "active": True, "is_visible": True}]).encode()
    greenhouse = json.dumps({"jobs": [{"id": 1, "title": "Software Engineer Intern (Summer 2025)", "company_name": "Acme AI, Inc.",
                                       "location": {"name": "New York, NY"}}]}).encode()
    rss = (b'<rss version="2.0"><channel><title>j</title><item><title>Acme AI: Software Engineer Intern, Summer 2025</title>'
           b"<category>New York, New York, United States</category><link>https://x.example/1</link></item></channel></rss>")
    keys = {parse_simplify(simplify).items[0].dedupe_key(), parse_json(greenhouse).items[0].dedupe_key(),
            parse_rss(rss).items[0].dedupe_key()}
    assert keys == {"acme ai|software engineer intern|new york"}
    other_city = json.dumps([{"id": "s2", "company_name": "Acme AI", "title": "Software Engineer Intern", "locations": ["SF"],
                              "is_visible": True}]).encode()
    assert parse_simplify(other_city).items[0].dedupe_key() == "acme ai|software engineer intern|san francisco"


# -- hostile input ----------------------------------------------------------------------------------
def test_simplify_wrong_types_everywhere() -> None:
    entries = [
        None, 42, ["a list"], {"unrelated": True},
        {"id": "t1", "company_name": "Acme", "title": 12345, "is_visible": True},
        {"id": "t2", "company_name": "Acme", "title": "ML Intern", "locations": "Toronto, ON, Canada", "terms": {"a": 1},
         "active": "false", "date_posted": "2024-11-15", "date_updated": "yesterday", "is_visible": "true",
         "sponsorship": 3, "url": "javascript:alert(1)", "degrees": "PhD"},
        {"id": "t3", "company_name": "Acme", "title": "Data Intern Summer 2026", "locations": [None, 5, "NYC"],
         "date_posted": True, "date_updated": 99999999999999, "active": "maybe", "is_visible": False},
        {"company_name": "Acme", "title": "Hardware Intern", "is_visible": True},
        {"id": "t5", "company_name": "", "title": "Quant Intern", "is_visible": True},
        {"id": "t6", "company_name": "Acme", "title": "   ", "is_visible": True},
    ]
    result = parse_simplify(json.dumps(entries).encode())
    assert [i.title for i in result.items] == ["ML Intern", "Hardware Intern"]
    ml, hw = result.items
    # documented: "false"/"true" strings are read as booleans; a string location is one location
    assert (ml.active, ml.locations, ml.posted_at, ml.updated_at) == (False, ["Toronto, ON, Canada"], "2024-11-15T00:00:00+00:00", None)
    assert (ml.url, ml.sponsorship, ml.seasons, ml.degrees) == ("", "unknown", [], ["phd"])
    assert hw.source_id and re.fullmatch(r"[0-9a-f]{16}", hw.source_id)  # stable hash when there is no id
    assert [(r.title, r.reason) for r in result.rejected] == [
        ("", "no title"), ("Data Intern Summer 2026", "hidden (is_visible=false)"), ("Quant Intern", "no company"), ("", "no title")]
    text = "\n".join(result.errors)
    for expected in ("entry 1: NoneType, not an object", "entry 2: int, not an object", "entry 3: list, not an object",
                     "entry 4: not a listing", "entry 5: title is int", "entry 6: locations is a string",
                     "entry 6: terms is dict", "entry 6 date_updated: unreadable date 'yesterday'", "entry 6: sponsorship is int",
                     "entry 6: degrees is a string"):
        assert expected in text, expected
    assert all("\n" not in e for e in result.errors)


def test_json_wrong_types_and_hostile_text() -> None:
    entries = [
        {"title": 7, "company": "Acme"}, None, "string",
        {"title": "AI Intern\u200b @everyone\x00\x1b[31m", "company": "Evil" * 100, "location": 42, "url": "file:///etc/passwd",
         "date": "yesterday", "remote": "yes", "tags": {"weird": 1}, "id": ["not", "an", "id"]},
        {"title": "Backend Intern", "company": "Ok", "location": ["Austin, TX", {"name": "Remote"}], "epoch": 1731690000,
         "is_remote": "true", "status": "closed"},
    ]
    result = parse_json(json.dumps(entries).encode())
    evil, ok = result.items
    assert evil.title == "AI Intern @everyone[31m" and len(evil.company) == 200 and evil.company.endswith("…")
    assert (evil.url, evil.posted_at, evil.remote, evil.locations) == ("", None, True, ["42"])
    assert (ok.locations, ok.remote, ok.active, ok.posted_at) == (["Austin, TX", "Remote"], True, False, "2024-11-15T17:00:00+00:00")
    assert any("entry 2: NoneType" in e for e in result.errors) and any("unreadable date 'yesterday'" in e for e in result.errors)


def test_duplicate_ids_within_one_payload() -> None:
    base = {"company_name": "Acme", "title": "ML Intern", "locations": ["SF"], "terms": ["Summer 2025"], "is_visible": True}
    entries = [base | {"id": "x"}, base | {"id": "x"}, base | {"id": "x", "title": "Data Intern"}]
    result = parse_simplify(json.dumps(entries).encode())
    assert result.items[0].source_id == "x" and len(result.items) == 2
    assert re.fullmatch(r"x#[0-9a-f]{8}", result.items[1].source_id)
    assert result.errors == ["entry 2: repeats id x for the same role; dropped the repeat"]


def test_huge_arrays_are_linear() -> None:
    jobs = [{"id": str(n), "company_name": f"Co{n % 97}", "title": f"ML Intern {n % 13}", "locations": ["NYC"],
             "terms": ["Summer 2025"], "is_visible": True, "active": True} for n in range(100_000)]
    body = json.dumps(jobs).encode()
    assert len(parse_simplify(body).items) == 100_000
    result = parse_json(json.dumps([None] * 50_000 + [{"title": "Intern", "company": "A", "location": "SF"}] * 50_000).encode())
    assert len(result.items) == 1 and len(result.errors) == 201  # capped log; identical repeats dropped
    same_id = [{"id": "x", "company_name": "Co", "title": f"Intern {n} role", "is_visible": True}
               for n in range(20_000)]
    result = parse_simplify(json.dumps(same_id).encode())
    assert len({i.source_id for i in result.items}) == 20_000
    with pytest.raises(FeedError, match="none of the 100000 entries"):
        parse_json(json.dumps([{"note": n} for n in range(100_000)]).encode())


@pytest.mark.parametrize("parse", [parse_simplify, parse_rss, parse_json])
def test_whole_payload_problems(parse) -> None:
    html_page = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    for body, message in [
        (html_page, "HTML page"), (b"[" + b" " * MAX_BODY + b"]", "52,428,802 bytes; job feeds over 50 MB are refused"),
        (b"", "empty"), (b"   \n", "empty"),
    ]:
        with pytest.raises(FeedError, match=re.escape(message)):
            parse(body)
    with pytest.raises(FeedError):
        parse("not bytes")  # type: ignore[arg-type]


def test_json_whole_payload_problems() -> None:
    for body, message in [(b"{not json", "not valid JSON"), (b'{"status": "ok", "count": 3}', "no job list (keys: status, count)"),
                          (b"42", "the JSON is a int"), (b"\xff\xfe[", "not UTF-8"),
                          (b'[{"name": "a"}, {"name": "b"}]', "none of the 2 entries looks like a job posting")]:
        with pytest.raises(FeedError, match=re.escape(message)):
            parse_json(body)
    with pytest.raises(FeedError, match="top level is dict"):
        parse_simplify(sample("greenhouse_board.json"))
    assert parse_json(b"[]").items == [] and parse_simplify(b"[]").items == [] and parse_json(b'{"jobs": []}').items == []


def test_rss_whole_payload_problems() -> None:
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
              b"<rss><channel><item><title>&lol2;</title></item></channel></rss>")
    with pytest.raises(FeedError, match="declares entities"):
        parse_rss(laughs)
    with pytest.raises(FeedError, match="got JSON"):
        parse_rss(sample("remoteok_api.json"))
    with pytest.raises(FeedError, match="not an RSS or Atom feed"):
        parse_rss(b"just some text, no markup")
    with pytest.raises(FeedError):
        parse_rss(b"/etc/passwd")  # never read as a file path by feedparser
