"""The paper parsers on real payloads (tests/fixtures/feeds, copied unmodified from shared/samples)
and on hostile ones: none may crash, and none may turn an error into a paper."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feeds.papers import (
    MAX_BODY,
    FeedError,
    parse_arxiv_api,
    parse_arxiv_id,
    parse_arxiv_rss,
    parse_hf_daily,
    sniff_kind,
)

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"


def sample(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


API_100 = "q_testing_s0_m100_cfe7536492ca.xml"
RSS = "quant-ph_2025-04-28.xml"
HF = "daily_papers_2026-08-21_reserialized.json"


def test_arxiv_api_page_of_100() -> None:
    result = parse_arxiv_api(sample(API_100))
    assert len(result.items) == 100 and result.errors == []
    first = result.items[0]
    assert (first.arxiv_id, first.version) == ("2202.12139", 1)
    assert first.title == "Testing Deep Learning Models: A First Comparative Study of Multiple Testing Techniques"
    assert first.authors == ["Mohit Kumar Ahuja", "Arnaud Gotlieb", "Helge Spieker"]
    assert first.categories == ["cs.SE", "cs.LG"] and first.primary_category == "cs.SE"
    assert first.published == "2022-02-24T15:05:19Z"
    assert (first.abs_url, first.pdf_url) == ("https://arxiv.org/abs/2202.12139", "https://arxiv.org/pdf/2202.12139")
    assert all("\n" not in p.title and "  " not in p.abstract for p in result.items)
    assert len({p.arxiv_id for p in result.items}) == 100


def test_arxiv_api_error_feed_is_an_error_not_a_paper() -> None:
    with pytest.raises(FeedError, match="arXiv answered with an error: incorrect id format for abc"):
        parse_arxiv_api(sample("id_abc_s0_m100_b79c8dcf6bc3.xml"))


def test_arxiv_api_empty_result_is_normal() -> None:
    result = parse_arxiv_api(sample("id_0000.0000_s0_m100_8b51d9633a68.xml"))
    assert result.items == [] and result.errors == []


def test_arxiv_api_non_ascii_authors_and_old_style_ids() -> None:
    [paper] = parse_arxiv_api(sample("id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af.xml")).items
    assert len(paper.authors) == 34 and "Dirk Wübben" in paper.authors
    [old] = parse_arxiv_api(sample("id_astro-ph_0601001_s0_m100_3150dca9dc76.xml")).items
    assert (old.arxiv_id, old.version) == ("astro-ph/0601001", 1)
    assert old.authors[0] == "Andrew Gould"  # the affiliation inside <author> is not a name


def test_arxiv_api_does_not_depend_on_layout() -> None:
    """Same content, different prefixes and element order: the same paper."""
    body = b"""<?xml version="1.0"?>
<a:feed xmlns:a="http://www.w3.org/2005/Atom" xmlns:x="http://arxiv.org/schemas/atom">
 <a:entry>
  <x:primary_category term="cs.LG"/>
  <a:category term="cs.LG"/>
  <a:summary>  An
   abstract. </a:summary>
  <a:author><a:name>Ada Lovelace</a:name></a:author>
  <a:title>A   wrapped
     title</a:title>
  <a:id>https://arxiv.org/abs/2401.01234v3</a:id>
 </a:entry>
</a:feed>"""
    [paper] = parse_arxiv_api(body).items
    assert (paper.arxiv_id, paper.version, paper.title, paper.abstract) == ("2401.01234", 3, "A wrapped title", "An abstract.")
    assert paper.primary_category == "cs.LG" and paper.authors == ["Ada Lovelace"]


def test_arxiv_rss_day_with_all_announce_types() -> None:
    result = parse_arxiv_rss(sample(RSS))
    assert len(result.items) == 81 and result.errors == []
    types = {}
    for p in result.items:
        types[p.announce_type] = types.get(p.announce_type, 0) + 1
    assert types == {"new": 40, "replace": 22, "cross": 10, "replace-cross": 9}
    first = result.items[0]
    assert (first.arxiv_id, first.version, first.announce_type) == ("2504.17830", 1, "new")
    assert first.abstract.startswith("We introduce a self-adjoint time operator")
    assert "Announce Type" not in first.abstract
    assert first.published == "2025-04-28T04:00:00Z"
    multi = next(p for p in result.items if len(p.authors) > 2)
    assert all("," not in a for a in multi.authors)


def test_arxiv_rss_weekend_feed_is_empty_not_an_error() -> None:
    body = b"""<?xml version='1.0' encoding='UTF-8'?><rss version="2.0"><channel><title>cs.LG updates</title>
<skipDays><day>Saturday</day><day>Sunday</day></skipDays></channel></rss>"""
    result = parse_arxiv_rss(body)
    assert result.items == [] and result.errors == []


def test_hf_daily_papers() -> None:
    result = parse_hf_daily(sample(HF))
    assert len(result.items) == 17 and result.errors == []
    top = result.items[0]
    assert (top.arxiv_id, top.upvotes, top.stars) == ("2608.19880", 163, 8)
    assert top.code_url == "https://github.com/google-research/envharness"
    assert top.ai_summary and top.ai_summary.startswith("EnvHarness and EnvRigger")
    assert top.published == "2026-08-20T00:00:00Z"  # the arXiv date, not when it entered the list
    raw = json.loads(sample(HF))
    without_repo = [e["paper"]["id"] for e in raw if "githubRepo" not in e["paper"]]
    assert without_repo and all(p.code_url is None for p in result.items if p.arxiv_id in without_repo)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2401.01234v2", ("2401.01234", 2)),
        ("arXiv:2401.01234", ("2401.01234", None)),
        ("https://arxiv.org/pdf/2401.01234v3.pdf", ("2401.01234", 3)),
        ("https://arxiv.org/abs/2401.01234", ("2401.01234", None)),
        ("oai:arXiv.org:astro-ph/0601001v1", ("astro-ph/0601001", 1)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("abc", None),
        ("1234.5", None),
        ("https://evil.example/abs/2401.01234", None),
        ("", None),
    ],
)
def test_arxiv_ids(text: str, expected) -> None:
    assert parse_arxiv_id(text) == expected


HOSTILE = {
    "truncated XML": (parse_arxiv_api, sample(API_100)[: len(sample(API_100)) // 2], "malformed or truncated"),
    "HTML page with 200": (parse_arxiv_api, b"<!DOCTYPE html><html><body>Rate exceeded</body></html>", "HTML page"),
    "HTML for RSS": (parse_arxiv_rss, b"<html><body><h1>503</h1></body></html>", "not an RSS feed"),
    "HTML for HF": (parse_hf_daily, b"<!doctype html><html>Bad gateway</html>", "HTML page"),
    "entity bomb": (
        parse_arxiv_rss,
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><rss>&b;</rss>',
        "DOCTYPE or entities",
    ),
    "too big": (parse_arxiv_api, b"<feed>" + b" " * (MAX_BODY + 1) + b"</feed>", "refused"),
    "empty body": (parse_hf_daily, b"   ", "empty"),
    "JSON object error": (parse_hf_daily, b'{"error": "Invalid date"}', "answered with an error: Invalid date"),
    "wrong JSON shape": (parse_hf_daily, b'{"papers": []}', "expected a JSON array"),
    "RSS given to the API parser": (parse_arxiv_api, sample(RSS), "not an Atom feed"),
    "a job feed, not papers": (
        parse_arxiv_rss,
        b"<rss><channel><item><title>Acme: ML intern</title><link>https://jobs.example/1</link></item></channel></rss>",
        "none of the 1 entries is a usable arXiv paper",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_payloads_are_refused_with_a_reason(case: str) -> None:
    parser, body, reason = HOSTILE[case]
    with pytest.raises(FeedError) as info:
        parser(body)
    assert reason in str(info.value)
    assert len(str(info.value)) < 200


def test_bad_entries_are_skipped_and_listed() -> None:
    body = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
<entry><title>No id here</title></entry>
<entry><id>http://arxiv.org/abs/2401.00001v1</id><title></title></entry>
<entry><id>http://arxiv.org/abs/2401.00002v1</id><title>Good</title><published>last tuesday</published></entry>
<entry><id>http://arxiv.org/abs/2401.00002v2</id><title>Good again</title></entry>
<entry><id>http://arxiv.org/abs/2401.00003</id><title>Caf\xe9 \xff bytes</title></entry>
</feed>"""
    result = parse_arxiv_api(body)
    assert [p.arxiv_id for p in result.items] == ["2401.00002", "2401.00003"]
    assert result.items[0].published is None
    joined = " | ".join(result.errors)
    for fragment in ("invalid UTF-8", "no arXiv id", "no title", "unreadable date", "appears twice"):
        assert fragment in joined, fragment


def test_hf_entries_with_missing_or_odd_fields() -> None:
    body = json.dumps([
        {"paper": {"id": "2608.00001", "title": "Minimal"}},
        {"paper": {"id": "2608.00002", "title": "Odd", "upvotes": "many", "githubRepo": "javascript:alert(1)",
                   "githubStars": True, "authors": [{"name": "@everyone"}, "not a dict"]}},
        {"paper": {"title": "No id"}},
        {"no paper": 1},
        "a string",
    ]).encode()
    result = parse_hf_daily(body)
    assert [p.arxiv_id for p in result.items] == ["2608.00001", "2608.00002"]
    odd = result.items[1]
    assert (odd.upvotes, odd.code_url, odd.stars) == (None, None, None)
    assert len(result.errors) == 3


@pytest.mark.parametrize("name,kind", [(API_100, "arxiv-api"), (RSS, "arxiv-rss"), (HF, "hf-daily")])
def test_sniffing_the_kind(name: str, kind: str) -> None:
    assert sniff_kind(sample(name)) == kind


@pytest.mark.parametrize("path", sorted(FIXTURES.iterdir()), ids=lambda p: p.name)
def test_every_real_sample_parses_cleanly(path: Path) -> None:
    body = path.read_bytes()
    kind = sniff_kind(body)
    parser = {"arxiv-api": parse_arxiv_api, "arxiv-rss": parse_arxiv_rss, "hf-daily": parse_hf_daily}[kind]
    if path.name.startswith("id_abc"):
        with pytest.raises(FeedError):
            parser(body)
        return
    result = parser(body)
    assert result.errors == []
    for paper in result.items:
        assert parse_arxiv_id(paper.arxiv_id) == (paper.arxiv_id, None)  # canonical: no version
        assert paper.title and paper.abs_url == f"https://arxiv.org/abs/{paper.arxiv_id}"


def test_hf_entries_carry_the_day_they_were_listed() -> None:
    result = parse_hf_daily(sample(HF))
    assert {p.listed_on for p in result.items} == {"2026-08-21"}
