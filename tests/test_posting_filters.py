"""Filter semantics as a table: postings (parsed from Simplify-shaped entries) × filters."""

from __future__ import annotations

import json
import random

import pytest

from commands.postings.filters import AlertIndex, FilterError, build_index, parse_filter
from feeds.postings import Posting, parse_simplify


def entry(company: str, title: str, locations: list[str], terms: list[str], sponsorship: str, category: str | None = None) -> dict:
    item = {
        "source": "Simplify", "company_name": company, "id": f"{company}-{title}", "title": title, "active": True,
        "terms": terms, "date_posted": 1731700000, "date_updated": 1731700000, "url": "https://jobs.example.org/x",
        "locations": locations, "company_url": "", "is_visible": True, "sponsorship": sponsorship,
    }
    if category:
        item["category"] = category
    return item


POSTINGS: dict[str, Posting] = {
    p.company[0]: p
    for p in parse_simplify(json.dumps([
        entry("A NVIDIA", "Deep Learning Intern", ["Santa Clara, CA"], ["Summer 2027"], "Offers Sponsorship", "AI/ML/Data"),
        entry("B Shopify", "Machine Learning Intern", ["Remote in Canada"], ["Summer 2027"], "Other"),
        entry("C Jane Street", "Quantitative Trader Intern", ["NYC"], ["Summer 2026"], "U.S. Citizenship is Required"),
        entry("D Ciena", "Software Co-op", ["Ottawa, ON, Canada"], ["Fall 2026"], "Does Not Offer Sponsorship"),
        entry("E Cohere", "ML Research Intern", ["Remote in USA"], ["Summer 2027"], "Offers Sponsorship"),
        entry("F Arm", "Hardware Engineering Intern", ["Cambridge, UK"], ["Summer 2027"], "Other"),
    ]).encode()).items
}

TABLE = [
    ("remote", "BE"),
    ("location:canada", "BD"),
    ("location:Canada", "BD"),
    ("location:usa", "ACE"),
    ("location:nyc", "C"),
    ("location:new-york", "C"),
    ("location:uk", "F"),
    ("location:ontario", "D"),
    ("location:remote", "BE"),
    ("sponsorship:yes", "AE"),
    ("sponsorship:no", "D"),
    ("sponsorship:citizens-only", "C"),
    ("season:summer-2027", "ABEF"),
    ("season:fall", "D"),
    ("season:2026", "CD"),
    ("category:ai-ml", "ABE"),
    ("category:quant", "C"),
    ("category:hardware", "F"),
    ("company:nvidia", "A"),
    ('company:"jane street"', "C"),
    ("company:jane-street", "C"),
    ("learning", "AB"),
    ("intern -research", "ABCF"),
    ("engineer", "F"),
    ("location:canada location:uk", "BDF"),
    ("remote sponsorship:yes category:ai-ml season:summer-2027", "E"),
    ("machine learning remote", "B"),
]


@pytest.mark.parametrize("text, expected", TABLE)
def test_filter_table(text: str, expected: str) -> None:
    flt = parse_filter(text)
    assert "".join(k for k, p in sorted(POSTINGS.items()) if flt.matches(p)) == expected
    index = build_index([(1, text)])  # the index finds exactly what a full scan finds
    assert "".join(k for k, p in sorted(POSTINGS.items()) if index.match(p)) == expected


def test_canonical_form_is_one_spelling_per_meaning() -> None:
    assert parse_filter("Remote  SPONSORSHIP:Yes cat:ml season:Summer27").canonical() == \
        "remote season:summer-2027 sponsorship:yes category:ai-ml"
    assert parse_filter('company:"Jane Street" loc:NYC').canonical() == 'location:"new york" company:"jane street"'
    assert parse_filter(parse_filter("engineers -senior").canonical()) == parse_filter("engineers -senior")


@pytest.mark.parametrize("text, message", [
    ("salary:high", "is not a filter; use location:"),
    ("sponsorship:maybe", "is not one of yes, no, citizens-only, unknown"),
    ("category:biology", "is not one of ai-ml, data, software, quant, hardware, other"),
    ("season:someday", "is not a season"),
    ("location:", "needs a value"),
    ('company:"jane street', "a quote is not closed"),
    (" ".join(["word"] * 30), "at most 20 filter words"),
])
def test_bad_filters_say_what_is_accepted(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=message.replace("(", r"\(")):
        parse_filter(text)


def test_index_agrees_with_a_full_scan_on_many_random_alerts() -> None:
    rng = random.Random(3)
    words = ["remote", "location:canada", "location:usa", "location:uk", "sponsorship:yes", "sponsorship:no",
             "season:summer-2027", "season:fall", "category:ai-ml", "category:quant", "company:nvidia", "learning",
             "intern", "research", "-research", "engineer", "company:cohere", "location:nyc"]
    alerts = [(i, " ".join(rng.sample(words, rng.randint(1, 3)))) for i in range(2000)]
    index: AlertIndex = build_index(alerts)
    for posting in POSTINGS.values():
        scanned = sorted(i for i, text in alerts if parse_filter(text).matches(posting))
        assert index.match(posting) == scanned
