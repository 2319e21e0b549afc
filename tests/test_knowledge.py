"""The knowledge base as data: complete, well-formed, and written in our own words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from commands.advice.knowledge import KnowledgeError, load_builtin, parse_entry

SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"
REQUIRED_TOPICS = {
    "fundamentals-programming", "fundamentals-math", "courses-moocs", "deep-learning-practice-hardware",
    "portfolio-projects", "github-open-source", "competitions-kaggle", "publications-research",
    "where-to-find-postings", "target-startups-small-companies", "networking-referrals",
    "applying-routes-timing", "resume-cover-letter", "interview-process", "interview-prep-coding",
    "interview-prep-ml", "myths-phd-required", "myths-top-university", "myths-us-only",
    "remote-internships", "part-time-internships", "research-the-company", "reading-papers",
    "software-engineering-tools", "during-internship-expectations", "benefits-after-internship",
    "phd-research-internships", "eligibility", "enthusiasm",
}


def test_every_topic_is_covered_by_well_formed_entries():
    entries, catalog, digest = load_builtin()
    assert len(entries) >= 70
    assert REQUIRED_TOPICS <= {e.topic for e in entries}
    for e in entries:
        assert len(e.body) <= 1500, e.id
        assert e.sources and all(s in catalog.sources for s in e.sources), e.id
        assert e.keywords, e.id
        assert 8 <= len(e.examples) <= 15, (e.id, len(e.examples))


def test_example_questions_are_not_shared_between_entries():
    """An example is evidence for one entry: the same question under two would make them tie."""
    entries, _, _ = load_builtin()
    seen: dict[str, str] = {}
    for e in entries:
        for q in e.examples:
            key = " ".join(q.lower().split())
            assert key not in seen, f"{q!r} is an example of both {seen[key]} and {e.id}"
            seen[key] = e.id


def test_broken_entry_files_are_reported_with_their_name():
    with pytest.raises(KnowledgeError, match="x.md: missing"):
        parse_entry('+++\nid = "x"\n+++\nbody', "x.md")
    with pytest.raises(KnowledgeError, match="not valid TOML"):
        parse_entry("+++\nid = \n+++\nbody", "y.md")
    with pytest.raises(KnowledgeError, match="examples must be a list of questions"):
        parse_entry('+++\nid="ok-id"\ntitle="t"\ntopic="t"\nsources=["s"]\nexamples="one"\n+++\nbody', "e.md")
    with pytest.raises(KnowledgeError, match="one chat message"):
        parse_entry('+++\nid="ok-id"\ntitle="t"\ntopic="t"\nsources=["s"]\n+++\n' + "x" * 1501, "z.md")


_CITED = re.compile(r'"[^"\n]*"|\*(?!\*)[^*\n]+\*(?!\*)|\u201c[^\u201d]*\u201d')


def _shingles(text: str, n: int = 8) -> set[tuple[str, ...]]:
    """Runs of n words. Quoted search phrases and *italic* book titles are citations, not prose."""
    words = re.findall(r"[a-z0-9]+", _CITED.sub(" | ", text.lower()).replace("|", " qqq "))
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed articles live in ../shared, beside the repo")
def test_entries_are_in_our_own_words():
    seed_shingles = set().union(*(_shingles(p.read_text("utf-8")) for p in SEEDS.glob("*.txt")))
    entries, _, _ = load_builtin()
    copied = {e.id: sorted(" ".join(s) for s in _shingles(e.body) & seed_shingles) for e in entries}
    copied = {k: v for k, v in copied.items() if v}
    assert not copied, f"entries repeat 8-word runs of the seed articles: {copied}"
