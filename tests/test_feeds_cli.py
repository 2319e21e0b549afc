"""`careerbot feeds preview|refresh` as separate processes against the local feed server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.both_engines


async def careerbot(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Runs the CLI without blocking the event loop that serves the feeds."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("CAREERBOT_", "DISCORD_", "SLACK_"))}
    full_env.update(env or {})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=REPO, env=full_env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.mark.parametrize(
    "path,fixture,kind,count",
    [
        ("/api", "q_testing_s0_m100_cfe7536492ca.xml", "arxiv-api", 100),
        ("/rss/quant-ph", "quant-ph_2025-04-28.xml", "arxiv-rss", 81),
        ("/hf", "daily_papers_2026-08-21_reserialized.json", "hf-daily", 17),
    ],
)
async def test_preview_prints_normalized_items(server, path, fixture, kind, count) -> None:
    url = server.serve_fixture(path, fixture)
    code, out, err = await careerbot("feeds", "preview", url, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert list(data) == ["kind", "items", "rejected", "errors"]
    assert data["kind"] == kind and len(data["items"]) == count and data["errors"] == []
    assert all(item["arxiv_id"] and "v" not in item["arxiv_id"].split(".")[-1] for item in data["items"])
    code, text, _ = await careerbot("feeds", "preview", url, "--kind", kind)
    assert code == 0 and text.startswith(f"{kind}: {count} item(s)")


@pytest.mark.parametrize(
    "setup,reason",
    [
        (lambda s: s.serve_fixture("/bad", "id_abc_s0_m100_b79c8dcf6bc3.xml"), "arXiv answered with an error"),
        (lambda s: s.routes.__setitem__("/bad", b"<html><body>hello</body></html>"), "not a paper feed (arXiv API or RSS, Hugging Face daily papers) or a job feed"),
        (lambda s: s.fail.__setitem__("/bad", [(503, {}), (503, {})]), "HTTP 503"),
        (lambda s: None, "HTTP 404"),
    ],
    ids=["error-feed", "not-a-feed", "http-503", "http-404"],
)
async def test_preview_refuses_what_is_not_a_feed(server, setup, reason) -> None:
    setup(server)
    url = server.base_url + "/bad"
    code, out, err = await careerbot("feeds", "preview", url, "--json")
    data = json.loads(out)
    assert code == 1 and data["items"] == [] and reason in data["errors"][0]
    code, out, err = await careerbot("feeds", "preview", url)
    assert code == 1 and reason in err and out == ""


async def test_refresh_runs_every_source_once(server, db_path: Path) -> None:
    server.serve_fixture("/hf", "daily_papers_2026-08-21_reserialized.json")
    env = {"CAREERBOT_HF_PAPERS_URL": server.base_url + "/hf", "CAREERBOT_ARXIV_API_URL": server.base_url + "/api",
           "CAREERBOT_ARXIV_RSS_URL": server.base_url + "/rss", "CAREERBOT_PWC_API_URL": server.base_url + "/pwc"}
    db = str(db_path)  # a file, or a postgresql:// URL: the same command for either engine
    code, out, err = await careerbot("feeds", "refresh", "--db", db, env=env)
    lines = out.splitlines()
    assert lines[0] == "hf-daily: ok, 68 item(s), 17 new", out  # three days and trending, 17 papers in all
    assert lines[-1].startswith("arxiv-api: FAILED: HTTP 404")  # the category look-up has nowhere to go
    assert code == 1
    code, out, _ = await careerbot("feeds", "refresh", "--db", db, "--json", env=env)
    first = json.loads(out.splitlines()[0])
    assert first["ok"] and first["new"] == 0 and first["items"] == 68


async def test_bad_source_url_setting_is_refused() -> None:
    code, _, err = await careerbot("feeds", "refresh", env={"CAREERBOT_ARXIV_API_URL": "ftp://example.org"})
    assert code == 2 and "CAREERBOT_ARXIV_API_URL='ftp://example.org' is not an http(s) URL" in err


JOBS = REPO / "tests" / "fixtures" / "jobs"
ITEM_KEYS = ["id", "company", "title", "locations", "remote", "season", "category", "sponsorship", "degrees", "url", "posted_at", "active"]


@pytest.mark.parametrize("fixture, kind", [
    ("simplify_listings_2024-11-15.json", "simplify"), ("rss_jobs_board.xml", "rss"), ("remoteok_api.json", "json"),
    ("greenhouse_board.json", "json"), ("atom_jobs.xml", "rss"),
])
async def test_preview_of_job_feeds(server, fixture: str, kind: str) -> None:
    server.routes["/jobs"] = (JOBS / fixture).read_bytes()
    for args in ((), ("--kind", kind)):
        code, out, err = await careerbot("feeds", "preview", server.base_url + "/jobs", *args, "--json")
        assert code == 0, err
        data = json.loads(out)
        assert list(data) == ["kind", "items", "rejected", "errors"] and data["kind"] == kind
        assert data["items"] and all(list(item) == ITEM_KEYS for item in data["items"])
        assert all(set(r) == {"company", "title", "reason"} for r in data["rejected"])
    if kind == "simplify":
        assert len(data["items"]) + len(data["rejected"]) == 6497  # every entry is an item or a rejection with its reason
        assert any(not item["active"] for item in data["items"])  # closed postings are items, marked closed
    code, text, _ = await careerbot("feeds", "preview", server.base_url + "/jobs", "--kind", kind)
    assert code == 0 and text.startswith(f"{kind}: {len(data['items'])} item(s)")


async def test_preview_refuses_a_payload_that_is_not_a_job_feed(server) -> None:
    server.serve_fixture("/papers", "q_testing_s0_m100_cfe7536492ca.xml")
    code, out, err = await careerbot("feeds", "preview", server.base_url + "/papers", "--kind", "json", "--json")
    data = json.loads(out)
    assert code == 1 and data["items"] == [] and data["errors"]
    code, out, err = await careerbot("feeds", "preview", server.base_url + "/papers", "--kind", "simplify")
    assert code == 1 and out == "" and err.startswith("careerbot: ") and len(err.splitlines()) == 1
