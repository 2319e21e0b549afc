"""Posting alerts end to end: real SimplifyJobs data served on 127.0.0.1, the shared poller
driven by the console's :tick, channel and DM alerts, dedupe across lists, closings."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.console import ConsoleSession
from bot.app import App
from bot.clock import frozen_clock
from bot.config import load_config
from bot.models import Role
from commands import create_app
from tests.fakes.feed_server import FeedServer

pytestmark = pytest.mark.both_engines

JOBS = Path(__file__).resolve().parent / "fixtures" / "jobs"
LISTINGS: list[dict[str, Any]] = json.loads((JOBS / "simplify_listings_2024-11-15.json").read_bytes())
# The last three entries of the real list: Two Sigma (NYC, sponsorship offered), TP-ICAP
# (London), The Trade Desk (no location). Everything before them is the baseline.
TWO_SIGMA, TP_ICAP, TRADE_DESK = LISTINGS[-3:]


def body(entries: list[dict[str, Any]]) -> bytes:
    return json.dumps(entries).encode()


async def make_app(db_path: Path, allow_private: bool = True) -> App:
    config = replace(load_config(environ={}, env_file=None), allow_private_feeds=allow_private)
    return await create_app(db_path, clock=frozen_clock("2024-11-15T20:00:00+00:00"), config=config)


@pytest.fixture
async def jobs_app(db_path: Path):
    app = await make_app(db_path)
    yield app
    await app.close()


async def say(session: ConsoleSession, line: str) -> dict[str, Any]:
    events = await session.feed(line)
    return [e for e in events if e["type"] in ("reply", "meta")][-1]["reply"]


async def tick(session: ConsoleSession, duration: str = "30m") -> list[dict[str, Any]]:
    return [e for e in await session.feed(f":tick {duration}") if e["type"] in ("post", "edit")]


def titles(event: dict[str, Any]) -> list[str]:
    return [c["title"] for c in event["reply"]["cards"]]


async def test_baseline_then_exactly_the_new_matching_postings_once(jobs_app, server: FeedServer) -> None:
    server.routes["/listings.json"] = body(LISTINGS[:-3])
    mod = ConsoleSession(jobs_app, user="olive", role=Role.MODERATOR)
    added = await say(mod, f"/postings source add {server.base_url}/listings.json simplify")
    assert "stored as a starting point" in added["text"], added
    assert await tick(mod, "1m") == []  # the baseline posts nothing, however long the list

    assert "Alert #1 added" in (await say(mod, "/alerts add season:summer-2025 sponsorship:yes #jobs"))["text"]
    ada = ConsoleSession(jobs_app, user="ada")
    assert "go to your DMs" in (await say(ada, "/alerts add location:uk"))["text"]
    bob = ConsoleSession(jobs_app, user="bob")
    await say(bob, "/alerts add company:nvidia")

    server.routes["/listings.json"] = body(LISTINGS)  # the list grows by three
    posts = await tick(mod)
    assert [(p["target"]["channel"], p["target"].get("user"), p["kind"]) for p in posts] == [
        ("jobs", None, "alert"), ("ada", "ada", "alert"),
    ]
    assert titles(posts[0]) == ["Two Sigma — Software Engineering Internship"]
    assert titles(posts[1])[0].startswith("TP-ICAP — Liquidnet Sales and Trading Summer Internship")
    assert [b["label"] for b in posts[0]["reply"]["cards"][0]["buttons"]] == ["Apply"]
    assert await tick(mod, "2h") == []  # polled again (304 or the same list): nothing is sent twice

    # Two Sigma closes on the list: the channel's post is edited, nothing is re-sent.
    closed = dict(TWO_SIGMA, active=False)
    server.routes["/listings.json"] = body(LISTINGS[:-3] + [closed, TP_ICAP, TRADE_DESK])
    edits = await tick(mod)
    assert [e["type"] for e in edits] == ["edit"]
    card = edits[0]["reply"]["cards"][0]
    assert card["title"] == "Closed: Two Sigma — Software Engineering Internship" and card["buttons"] == []
    closed_id = card["footer"].split()[1]
    shown = await say(ada, f"/postings show {closed_id}")
    assert "closed" in shown["cards"][0]["footer"]
    latest = await say(ada, "/postings latest company:\"two sigma\"")
    assert all(closed_id not in c["footer"] for c in latest["cards"])  # closed postings are dropped from listings


async def test_the_same_role_from_two_lists_alerts_once(jobs_app, server: FeedServer) -> None:
    server.routes["/a.json"] = body(LISTINGS[:-3])
    server.routes["/b.json"] = body([])  # a JSON job API with nothing yet
    mod = ConsoleSession(jobs_app, user="olive", role=Role.MODERATOR)
    await say(mod, f"/postings source add {server.base_url}/a.json simplify")
    assert "First fetch" in (await say(mod, f"/postings source add {server.base_url}/b.json json"))["text"]
    await say(mod, "/alerts add intern location:new-york #jobs")
    same_role = {
        "id": "gh-991", "company_name": "Two Sigma", "title": "Software Engineering Internship (Summer 2025)",
        "location": "New York, NY", "absolute_url": "https://careers.twosigma.com/job/991", "job_type": "Internship",
    }
    server.routes["/b.json"] = body([same_role])
    server.routes["/a.json"] = body(LISTINGS)
    posts = await tick(mod)
    alerted = [t for p in posts for t in titles(p)]
    assert alerted.count("Two Sigma — Software Engineering Internship") + alerted.count(
        "Two Sigma — Software Engineering Internship (Summer 2025)") == 1, alerted
    sources = (await say(mod, "/postings source list"))["cards"][0]["body"]
    assert sources.count("· ok, last success") == 2


async def test_channel_alerts_are_capped_per_hour_and_summarize_the_rest(jobs_app, server: FeedServer) -> None:
    server.routes["/listings.json"] = body(LISTINGS[:-40])
    mod = ConsoleSession(jobs_app, user="olive", role=Role.MODERATOR)
    await say(mod, f"/postings source add {server.base_url}/listings.json")  # format recognised
    await say(mod, "/alerts add season:summer-2025 #jobs")
    server.routes["/listings.json"] = body(LISTINGS)
    posts = await tick(mod)
    assert len(posts) == 1
    reply = posts[0]["reply"]
    assert len(reply["cards"]) == 10
    assert "…and " in reply["text"] and "more: /postings latest season:summer-2025" in reply["text"]
    assert await tick(mod, "3h") == []  # the summarized ones are not sent later either


async def test_a_member_sets_a_dm_alert_and_gets_only_what_matches(jobs_app, server: FeedServer) -> None:
    remote_ml = {
        "source": "Simplify", "company_name": "Cohere", "id": "new-1", "title": "Machine Learning Research Intern",
        "active": True, "terms": ["Summer 2027"], "date_updated": 1731700000, "date_posted": 1731700000,
        "url": "https://jobs.example.org/cohere/1", "locations": ["Remote in USA"], "company_url": "", "is_visible": True,
        "sponsorship": "Offers Sponsorship", "category": "AI/ML/Data",
    }
    onsite_ml = dict(remote_ml, id="new-2", company_name="Zeta", title="Machine Learning Intern", locations=["Toronto, ON, Canada"])
    no_visa = dict(remote_ml, id="new-3", company_name="Omega", sponsorship="Does Not Offer Sponsorship")
    old_season = dict(remote_ml, id="new-4", company_name="Delta", terms=["Summer 2025"])
    hidden = dict(remote_ml, id="new-5", company_name="Hidden Co", is_visible=False)
    server.routes["/listings.json"] = body(LISTINGS[:50])
    mod = ConsoleSession(jobs_app, user="olive", role=Role.MODERATOR)
    await say(mod, f"/postings source add {server.base_url}/listings.json simplify")
    ada = ConsoleSession(jobs_app, user="ada")
    await say(ada, "/alerts add remote sponsorship:yes category:ai-ml season:summer-2027")
    server.routes["/listings.json"] = body(LISTINGS[:50] + [remote_ml, onsite_ml, no_visa, old_season, hidden])
    posts = await tick(ada)
    assert [(p["target"].get("user"), titles(p)) for p in posts] == [("ada", ["Cohere — Machine Learning Research Intern"])]


async def test_alert_commands_permissions_and_test(jobs_app, server: FeedServer) -> None:
    server.routes["/listings.json"] = body(LISTINGS)
    mod = ConsoleSession(jobs_app, user="olive", role=Role.MODERATOR)
    ada = ConsoleSession(jobs_app, user="ada")
    assert (await say(ada, "/postings latest"))["kind"] == "nomatch"  # no sources yet: says how to add one
    await say(mod, f"/postings source add {server.base_url}/listings.json simplify")
    refused = await say(ada, "/alerts add remote #general")
    assert "Only moderators can add channel alerts" in refused["text"]
    assert "location:, season:" in (await say(ada, "/alerts add visa-ish:maybe"))["text"]
    assert "sponsorship:maybe is not one of yes, no, citizens-only, unknown" in (await say(ada, "/alerts add sponsorship:maybe"))["text"]
    await say(mod, "/alerts add category:quant #jobs")
    await say(ada, "/alerts add company:\"two sigma\"")
    listed = await say(ada, "/alerts list")
    bodies = [c["body"] for c in listed["cards"]]
    assert "#2 · company:\"two sigma\" · DM to you" in bodies[0] and "#1 · category:quant · #jobs" in bodies[1]
    assert "only moderators can change it" in (await say(ada, "/alerts remove 1"))["text"]
    test = await say(ada, "/alerts test 2")
    assert [c["title"] for c in test["cards"]] == ["Two Sigma — Software Engineering Internship"]
    assert "is paused" in (await say(ada, "/alerts pause 2"))["text"]
    assert "paused" in (await say(ada, "/alerts list"))["cards"][0]["body"]
    assert "You have no alert #9" in (await say(ada, "/alerts remove 9"))["text"]
    assert "is removed" in (await say(ada, "/alerts remove 2"))["text"]
    search = await say(ada, "/postings search software remote location:canada")
    assert search["cards"] and all("Canada" in c["body"] or "remote" in c["body"].lower() for c in search["cards"])
    assert (await say(mod, "/postings source list"))["cards"][0]["title"] == "Posting sources"
    assert "is removed from this server" in (await say(mod, f"/postings source remove {_source_id(await say(mod, '/postings source list'))}"))["text"]
    assert (await say(ada, "/postings latest"))["kind"] == "nomatch"


def _source_id(reply: dict[str, Any]) -> str:
    return reply["cards"][0]["body"].split("`")[1]


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1:9/x.json", "private, loopback or link-local"),
    ("http://169.254.169.254/latest/meta-data", "private, loopback or link-local"),
    ("http://[::1]/feed", "private, loopback or link-local"),
    ("ftp://example.org/jobs.json", "only http:// and https://"),
    ("https://user:secret@example.org/jobs.json", "user name or password"),
])
async def test_moderator_urls_are_guarded(db_path: Path, url: str, reason: str) -> None:
    app = await make_app(db_path, allow_private=False)
    try:
        mod = ConsoleSession(app, user="olive", role=Role.MODERATOR)
        reply = await say(mod, f"/postings source add {url}")
        assert reply["text"].startswith("Nothing added:") and reason in reply["text"]
        assert (await say(mod, "/postings source list"))["text"].startswith("No posting sources yet")
    finally:
        await app.close()


async def test_a_broken_source_is_reported_and_keeps_what_it_had(jobs_app, server: FeedServer) -> None:
    server.routes["/listings.json"] = body(LISTINGS[:100])
    mod = ConsoleSession(jobs_app, user="olive", role=Role.MODERATOR)
    await say(mod, f"/postings source add {server.base_url}/listings.json simplify")
    server.routes["/listings.json"] = b"<!DOCTYPE html><html><body>Maintenance</body></html>"
    for _ in range(3):
        await tick(mod, "30m")
    events = await mod.feed("/postings source list")
    listed = [e for e in events if e["type"] == "reply"][0]["reply"]["cards"][0]
    assert "unreachable since" in listed["body"] and "last error: got an HTML page" in listed["body"]
    assert "open of" in listed["footer"] and not listed["footer"].startswith("0 open")  # what it had stays
    notices = [e for e in events if e["type"] == "notice"]
    assert len(notices) == 1 and "Postings: source `jobs-" in notices[0]["reply"]["text"]  # moderators hear once
    assert not [e for e in await mod.feed("/postings latest") if e["type"] == "notice"]
    member = ConsoleSession(jobs_app, user="ada")
    assert (await say(member, "/postings latest"))["cards"]  # members still search what is stored


async def test_postings_digest_has_the_new_matching_postings(jobs_app, server: FeedServer) -> None:
    server.routes["/listings.json"] = body(LISTINGS[:-3])
    mod = ConsoleSession(jobs_app, user="olive", role=Role.MODERATOR)
    await say(mod, f"/postings source add {server.base_url}/listings.json simplify")
    await say(mod, "/alerts add location:uk #general")
    await say(mod, "/digest add postings daily 09:00")
    server.routes["/listings.json"] = body(LISTINGS)
    posts = await tick(mod, "14h")
    digest = [p for p in posts if p["kind"].startswith("digest")]
    assert len(digest) == 1
    assert [c["title"] for c in digest[0]["reply"]["cards"]][0].startswith("New internship postings: TP-ICAP")


async def test_a_closing_that_cannot_be_edited_in_is_named_in_the_next_digest(jobs_app, server: FeedServer) -> None:
    from bot.adapters.console import console_transport

    console_transport(jobs_app).edit = None  # a platform whose posts cannot be edited
    server.routes["/listings.json"] = body(LISTINGS[:-3])
    mod = ConsoleSession(jobs_app, user="olive", role=Role.MODERATOR)
    await say(mod, f"/postings source add {server.base_url}/listings.json simplify")
    await say(mod, "/alerts add season:summer-2025 sponsorship:yes #general")
    server.routes["/listings.json"] = body(LISTINGS)
    assert len(await tick(mod)) == 1
    await say(mod, "/digest add postings daily 09:00")
    server.routes["/listings.json"] = body(LISTINGS[:-3] + [dict(TWO_SIGMA, active=False), TP_ICAP, TRADE_DESK])
    posts = await tick(mod, "13h")
    assert [p["kind"] for p in posts] == ["digest-1"]  # no edit, no re-send: the digest says it
    assert "Closed since they were posted here: Two Sigma — Software Engineering Internship" in posts[0]["reply"]["text"]
    assert [p["kind"] for p in await tick(mod, "1d")] == []  # said once


async def test_two_bots_sharing_a_database_add_alerts_at_once(db_path: Path) -> None:
    """Two careerbot processes on one database: people adding alerts at the same moment all get one, numbered apart."""
    apps = [await make_app(db_path), await make_app(db_path)]
    try:
        people = [ConsoleSession(app, user=name) for app, name in zip(apps * 3, ["ada", "bob", "cy", "dee", "eve", "fay"])]
        replies = await asyncio.gather(*(say(p, "/alerts add remote") for p in people))
        added = [re.match(r"Alert #(\d+) added", r["text"]) for r in replies]
        assert all(added), [r["text"] for r in replies]
        assert sorted(int(m.group(1)) for m in added) == [1, 2, 3, 4, 5, 6]
    finally:
        for app in apps:
            await app.close()
