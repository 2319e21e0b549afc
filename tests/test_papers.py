"""Papers end to end: real payloads served on 127.0.0.1, the refresher, /paper and /papers."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.adapters.console import ConsoleSession
from bot.app import App
from bot.clock import frozen_clock
from bot.config import load_config
from bot.models import Role
from bot.storage import papers_repo, sources_repo
from commands import create_app
from commands.papers import service
from feeds.fetch import Fetcher, Politeness
from tests.fakes.fake_time import FakeTime
from tests.fakes.feed_server import FIXTURES, FeedServer

pytestmark = pytest.mark.both_engines

RSS = "quant-ph_2025-04-28.xml"
HF = "daily_papers_2026-08-21_reserialized.json"
API_100 = "q_testing_s0_m100_cfe7536492ca.xml"





async def make_app(db_path: Path, server: FeedServer, at: str = "2025-04-28T12:00:00+00:00") -> App:
    config = replace(
        load_config(environ={}, env_file=None),
        arxiv_api_url=server.base_url + "/api/query",
        arxiv_rss_url=server.base_url + "/rss",
        hf_api_url=server.base_url + "/api/daily_papers",
        pwc_api_url=server.base_url + "/pwc",
    )
    app = await create_app(db_path, clock=frozen_clock(at), config=config)
    ticks = FakeTime()
    service(app).fetcher = Fetcher(Politeness({"127.0.0.1": 3.0}, ticks.monotonic, ticks.sleep))
    return app


@pytest.fixture
async def papers_app(db_path: Path, server: FeedServer):
    app = await make_app(db_path, server)
    yield app
    await app.close()


PWC = Path(__file__).resolve().parent / "fixtures" / "pwc"


def serve_all(server: FeedServer) -> None:
    server.serve_fixture("/rss/quant-ph", RSS)
    server.serve_fixture("/api/daily_papers", HF)
    server.serve_fixture("/api/query", API_100)
    # Papers With Code knows one of Hugging Face's papers (one with no code link there; the
    # hand-built fixture's paper, renamed to it).
    server.routes["/pwc/papers/"] = (PWC / "papers_arxiv_unknown.json").read_bytes()
    page = json.loads((PWC / "papers_arxiv_2106.09685.json").read_bytes())
    page["results"][0].update(id="envharness", arxiv_id="2608.13120")
    server.routes["/pwc/papers/?arxiv_id=2608.13120"] = json.dumps(page).encode()
    server.routes["/pwc/papers/envharness/repositories/"] = (PWC / "repositories_lora_page1.json").read_bytes()


async def say(session: ConsoleSession, line: str) -> dict:
    events = await session.feed(line)
    return events[-1]["reply"]


def text_of(reply: dict) -> str:
    parts = [reply["text"]]
    for card in reply["cards"]:
        parts += [card["title"], card["body"], card["footer"]] + [f"{f['name']}: {f['value']}" for f in card["fields"]]
        parts += [f"{b['label']}: {b['url']}" for b in card["buttons"]]
    return "\n".join(p for p in parts if p)


async def test_refresh_real_payloads_and_pick_falls_back_to_the_newest_announcement(papers_app, server) -> None:
    serve_all(server)
    mod = ConsoleSession(papers_app, role=Role.MODERATOR)
    assert "now follows quant-ph" in (await say(mod, "/papers follow quant-ph"))["text"]
    outcomes = await service(papers_app).refresh_all()
    assert [(o.source, o.ok) for o in outcomes] == [("arxiv-rss", True), ("hf-daily", True), ("arxiv-api", True), ("pwc", True)]
    days = [h["query"].get("date") or h["query"].get("sort") for h in server.hits("/api/daily_papers")]
    assert days == ["2025-04-28", "2025-04-27", "2025-04-26", "trending"]
    assert outcomes[0].items == 81 and outcomes[0].new == 81
    assert server.hits("/rss/quant-ph")[0]["user_agent"].startswith("careerbot/")

    member = ConsoleSession(papers_app, user="sam")
    first = await say(member, "/paper today")
    card = first["cards"][0]
    assert card["footer"].startswith("Why this paper: newest new announcement in quant-ph")
    assert "(Hugging Face has nothing settled for these categories yet)" in card["footer"]
    assert [b["label"] for b in card["buttons"]] == ["arXiv", "PDF"]
    assert card["url"].startswith("https://arxiv.org/abs/2504.")
    again = await say(mod, "/paper today")
    assert again["cards"][0]["title"] == card["title"]  # the same for everyone all day


async def test_second_refresh_uses_conditional_get(papers_app, server) -> None:
    serve_all(server)
    mod = ConsoleSession(papers_app, role=Role.MODERATOR)
    await say(mod, "/papers follow quant-ph")
    await service(papers_app).refresh_all()
    second = await service(papers_app).refresh_all()
    assert second[0].source == "arxiv-rss" and second[0].not_modified
    assert server.hits("/rss/quant-ph")[-1]["if_none_match"]


async def test_papers_with_code_gives_the_official_code_and_framework(papers_app, server) -> None:
    serve_all(server)
    outcomes = {o.source: o for o in await service(papers_app).refresh_all()}
    assert outcomes["pwc"].ok and outcomes["pwc"].new == 1  # one of the 10 papers asked about has official code
    asked = [h["query"]["arxiv_id"] for h in server.hits("/pwc/papers/")]
    assert len(asked) == 10 and "2608.13120" in asked  # the ten most upvoted recent papers first
    card = (await say(ConsoleSession(papers_app), "/paper 2608.13120"))["cards"][0]
    fields = {f["name"]: f["value"] for f in card["fields"]}
    # The official PyTorch repository wins over more-starred community ones.
    assert fields["Official code"] == "https://github.com/microsoft/LoRA (PyTorch)"
    assert ("Official code", "https://github.com/microsoft/LoRA") in [(b["label"], b["url"]) for b in card["buttons"]]
    await service(papers_app).refresh_all()  # the other seven
    assert len(server.hits("/pwc/papers/")) == 17
    again = await service(papers_app).refresh_all()
    assert "pwc" not in [o.source for o in again]  # each paper is asked about once: nothing left, the source idles


async def test_hugging_face_signals_show_on_the_card(papers_app, server) -> None:
    serve_all(server)
    await service(papers_app).refresh_all()
    reply = await say(ConsoleSession(papers_app), "/paper https://arxiv.org/abs/2608.19880v2")
    text = text_of(reply)
    assert "EnvHarness: Awakening Static Worlds for Agent Learning" in text
    assert "163 upvotes on Hugging Face" in text and "Code: https://github.com/google-research/envharness" in text
    assert reply["cards"][0]["body"].startswith("EnvHarness and EnvRigger dynamically reshape")  # HF's AI summary
    assert "et al. (17 authors)" in text


async def test_unknown_id_is_looked_up_on_arxiv_within_the_deadline(papers_app, server) -> None:
    serve_all(server)
    reply = await say(ConsoleSession(papers_app), "/paper 2202.12139")
    assert reply["cards"][0]["title"].startswith("Testing Deep Learning Models")
    assert server.hits("/api/query")[0]["query"]["id_list"] == "2202.12139"


async def test_arxiv_error_feed_is_reported_not_shown_as_a_paper(papers_app, server) -> None:
    server.serve_fixture("/api/query", "id_abc_s0_m100_b79c8dcf6bc3.xml")
    reply = await say(ConsoleSession(papers_app), "/paper 2401.99999")
    assert reply["kind"] == "nomatch"
    assert "arXiv could not be asked: arXiv answered with an error" in reply["text"]
    assert "Error" not in [c["title"] for c in reply["cards"]]


@pytest.mark.parametrize("bad", ["abc", "2401", "https://evil.example/abs/2401.01234", "@everyone"])
async def test_bad_ids_get_a_usage_message(papers_app, bad: str) -> None:
    reply = await say(ConsoleSession(papers_app), f"/paper {bad}")
    assert reply["kind"] == "error" and "is not an arXiv id" in reply["text"] and "@everyone" not in reply["text"]


async def test_search_local_first_then_arxiv(papers_app, server) -> None:
    serve_all(server)
    session = ConsoleSession(papers_app)
    reply = await say(session, "/paper search mutation testing")
    assert reply["kind"] == "info" and "mutation" in reply["text"].lower()
    assert len(server.hits("/api/query")) == 1  # nothing stored yet: asked arXiv once
    query = server.hits("/api/query")[0]["query"]["search_query"]
    assert query == "all:mutation AND all:testing"
    local = await say(session, "/paper search deep learning testing")
    assert local["text"].count("/paper ") >= 3
    assert len(server.hits("/api/query")) == 1  # enough locally: arXiv not asked again
    # Words, never operators, on either engine: "or" does not widen the search to either word.
    either = await say(session, "/paper search learning or testing")
    shown = re.findall(r"/paper (\S+)$", either["text"], re.MULTILINE)
    assert len(shown) >= 3 and len(server.hits("/api/query")) == 1
    for arxiv_id in shown:
        paper = await papers_repo.get(papers_app.db, arxiv_id)
        assert paper and "learn" in f"{paper.title} {paper.abstract}".lower(), paper
    narrowed = await say(session, "/paper search testing cs.SE")
    assert "in cs.SE" in narrowed["text"]
    assert "Give some words" in (await say(session, "/paper search !!! ???"))["text"]


async def test_failing_source_is_unhealthy_and_moderators_hear_once(papers_app, server) -> None:
    mod = ConsoleSession(papers_app, role=Role.MODERATOR)
    await say(mod, "/papers follow cs.LG")
    server.routes["/rss/cs.LG"] = b"<!DOCTYPE html><html><body>Oops</body></html>"
    for _ in range(3):
        outcomes = await service(papers_app).refresh_all()
        assert not any(o.ok for o in outcomes)
    assert outcomes[0].error == "got an HTML page, not a feed"
    member = ConsoleSession(papers_app, user="sam")
    today = await say(member, "/paper today")
    assert "No papers fetched yet." in today["text"] and "arxiv-rss: unreachable since 2025-04-28 12:00 UTC" in today["text"]
    assert "Papers:" not in today["text"]  # members are not sent moderator notices
    first = await say(mod, "/papers follow")
    assert first["text"].count("Papers: ") == 2 and "hf-daily: unreachable" in first["text"]
    second = await say(mod, "/papers follow")
    assert "Papers:" not in second["text"]
    sources = text_of(await say(mod, "/papers sources"))
    assert "arxiv-rss: unreachable since" in sources and "last error: got an HTML page" in sources


async def test_hostile_payloads_never_crash_the_refresher(papers_app, server) -> None:
    mod = ConsoleSession(papers_app, role=Role.MODERATOR)
    await say(mod, "/papers follow quant-ph")
    server.routes["/rss/quant-ph"] = (FIXTURES / RSS).read_bytes()[:5000]
    server.routes["/api/daily_papers"] = b'[{"paper": {"id": "2608.00001"}}, {"paper": "x"}, 7]'
    outcomes = await service(papers_app).refresh_all()
    assert not outcomes[0].ok and "truncated" in outcomes[0].error
    assert not outcomes[1].ok and "none of the 3 entries is a usable arXiv paper" in outcomes[1].error
    assert (await say(mod, "/papers sources"))["cards"][0]["footer"] == "0 papers stored."


async def test_follow_validation_and_keywords(papers_app) -> None:
    mod = ConsoleSession(papers_app, role=Role.MODERATOR)
    assert "not an arXiv category" in (await say(mod, "/papers follow cs.LG biology"))["text"]
    assert "no categories" in (await say(mod, "/papers follow"))["text"]
    await say(mod, "/papers follow cs.lg, stat.ml")
    assert "follows cs.LG, stat.ML" in (await say(mod, "/papers follow"))["text"]
    assert "does not follow cs.CV" in (await say(mod, "/papers unfollow cs.CV"))["text"]
    assert "now follows stat.ML" in (await say(mod, "/papers unfollow cs.LG"))["text"]
    assert "diffusion, llm" in (await say(mod, "/papers keywords add Diffusion LLM"))["text"]
    assert "needs words" in (await say(mod, "/papers keywords add"))["text"]
    assert ": none." in (await say(mod, "/papers keywords clear"))["text"]
    member = ConsoleSession(papers_app, user="sam")
    assert (await say(member, "/papers follow cs.CV"))["kind"] == "refusal"
    assert "paper_categories" in (await say(mod, "/config history"))["cards"][0]["body"]  # audited like any setting


async def test_papers_digest_posts_the_pick(papers_app, server) -> None:
    serve_all(server)
    mod = ConsoleSession(papers_app, role=Role.MODERATOR)
    await say(mod, "/papers follow quant-ph")
    await service(papers_app).refresh_all()
    await say(mod, "/digest add papers daily 13:00")
    events = await mod.feed(":tick 1h")
    [post] = [e for e in events if e["type"] == "post"]
    today = await say(mod, "/paper today")
    assert post["reply"]["cards"][0]["title"] == "Paper of the day: " + today["cards"][0]["title"]


async def test_polls_are_scheduler_jobs_that_run_only_when_something_is_followed(papers_app, server) -> None:
    serve_all(server)
    await papers_app.clock.advance(timedelta(minutes=10))  # a :tick runs due polls like any other job
    assert server.requests == []  # nobody follows anything: nobody is polled
    await say(ConsoleSession(papers_app, role=Role.MODERATOR), "/papers follow quant-ph")
    await papers_app.clock.advance(timedelta(minutes=10))  # the idle sources look again every 10 minutes
    rss = await sources_repo.get(papers_app.db, "arxiv-rss")
    assert rss and rss.status == "ok" and rss.items_last == 81
    assert {r["path"] for r in server.requests} == {"/rss/quant-ph", "/api/daily_papers", "/api/query"}
    jobs = {j["ref"]: j["due_at"] for j in await papers_app.db.fetchall("SELECT ref, due_at FROM jobs WHERE kind = 'poll'")}
    assert jobs["hf-daily"].startswith("2025-04-28T16:20")  # every 4 hours
    assert jobs["arxiv-rss"].startswith("2025-04-29T04:30")  # after the next announcement (00:30 New York)
    assert "arxiv-api" not in jobs  # look-ups run after Hugging Face brings papers, not on a clock
    server.requests.clear()
    await papers_app.clock.advance(timedelta(hours=1))
    # Papers With Code had nothing to ask about when it last looked; within the hour it asks about ten papers.
    assert len([r for r in server.requests if r["path"] == "/pwc/papers/"]) == 10
    assert {r["path"] for r in server.requests} == {"/pwc/papers/", "/pwc/papers/envharness/repositories/"}
    await papers_app.clock.advance(timedelta(hours=3))
    again = [r["path"] for r in server.requests[11:] if not r["path"].startswith("/pwc")]
    assert again == ["/api/daily_papers"] * 4 + ["/api/query"]  # three days and trending, then the look-ups
