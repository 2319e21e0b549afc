"""👍/👎 on advice answers and the report that tells a moderator which entry to write next."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.adapters.console import ConsoleSession
from bot.app import App
from bot.models import Role
from commands import create_app
from tests.conftest import subprocess_env

pytestmark = pytest.mark.both_engines  # run on SQLite and on PostgreSQL (tests/conftest.py)

REPO = Path(__file__).resolve().parent.parent


def text(events: list[dict]) -> str:
    reply = events[-1]["reply"]
    parts = [reply["text"]]
    for card in reply["cards"]:
        parts += [card["title"], card["body"], card["footer"]] + [f"{f['name']}: {f['value']}" for f in card["fields"]]
    return "\n".join(p for p in parts if p)


def buttons(events: list[dict]) -> list[str]:
    return [b["label"] for card in events[-1]["reply"]["cards"] for b in card["buttons"]]


async def test_votes_count_once_per_person_and_never_store_who(app: App):
    quinn = ConsoleSession(app, user="quinn")
    answer = await quinn.feed("/advice do i need a phd for an ml internship")
    labels = buttons(answer)
    assert labels[-2:] == ["👍 Helpful", "👎 Not helpful"]
    down = labels.index("👎 Not helpful") + 1
    shown = list(quinn._buttons)
    assert "Thanks — noted" in text(await quinn.feed(f":click {down}"))
    quinn._buttons = shown  # the answer is still on screen: they press 👎 again
    again = await quinn.feed(f":click {down}")
    assert "already rated" in text(again)
    rows = await app.db.fetchall("SELECT * FROM advice_votes")
    assert len(rows) == 1 and rows[0]["vote"] == -1 and rows[0]["entry_id"] == "myth-phd-required"
    stored = json.dumps([dict(r) for r in await app.db.fetchall("SELECT * FROM advice_asks")] + [dict(r) for r in rows])
    # "quinn" has letters no hex digest has: a keyed hash of the voter cannot contain it by chance
    assert "quinn" not in stored  # the question is kept, never who asked or voted


async def test_someone_else_pressing_the_same_button_is_a_second_vote(app: App):
    from bot.buttons import encode
    from bot.models import ActionButton

    ada = ConsoleSession(app, user="ada")
    answer = await ada.feed("/advice is kaggle worth it")
    up = next(b for b in answer[-1]["reply"]["cards"][0]["buttons"] if b["label"] == "👍 Helpful")
    button_id = encode(ActionButton(up["label"], up["command"], up["values"]))
    bob = ConsoleSession(app, user="bob")
    assert "glad it helped" in (await app.click(bob.actor, bob.place, button_id)).plain_text()
    assert "glad it helped" in (await app.click(ada.actor, ada.place, button_id)).plain_text()
    row = await app.db.fetchone("SELECT count(*) AS n, sum(vote) AS total FROM advice_votes")
    assert (row["n"], row["total"]) == (2, 2)


async def test_a_stale_vote_button_says_so(app: App):
    ada = ConsoleSession(app, user="ada")
    reply = await app.handle(ada.actor, ada.place, "/advice vote nosuchask up")
    assert reply.kind == "error" and "too old to rate" in reply.plain_text()


async def test_refusals_and_unsure_answers_have_no_vote_buttons(app: App):
    ada = ConsoleSession(app, user="ada")
    refused = await ada.feed("/advice best banana bread recipe")
    assert buttons(refused) == []
    unsure = await ada.feed("/advice interviews")
    assert unsure[-1]["reply"]["text"].startswith("I'm not sure") and not any("👍" in b for b in buttons(unsure))


async def test_the_report_shows_refused_questions_and_down_voted_answers(app: App):
    ada = ConsoleSession(app, user="ada")
    for _ in range(3):
        await ada.feed("/advice time complexity of heapsort")
    await ada.feed("/advice Time complexity of HEAPSORT??")  # the same question, spelled differently
    await ada.feed("/advice what gpu should i buy for gaming @everyone")
    answer = await ada.feed("/advice do i need a phd for an ml internship")
    await ada.feed(f":click {buttons(answer).index('👎 Not helpful') + 1}")

    member = await app.handle(ada.actor, ada.place, "/advice report")
    assert member.kind == "refusal"  # moderators only

    mod = ConsoleSession(app, user="mo", role=Role.MODERATOR)
    report = text(await mod.feed("/advice report"))
    assert "6 questions" in report and "refused" in report
    assert "4× 'time complexity of heapsort' (refused)" in report  # grouped, most asked first
    assert report.index("heapsort") < report.index("gpu should i buy")
    assert "@everyone" not in report  # questions are shown mention-defused
    assert "(myth-phd-required): 1 👎, 0 👍" in report
    assert "ada" not in report

    elsewhere = ConsoleSession(app, user="mo", role=Role.MODERATOR, workspace="another-server")
    assert "No advice questions were asked here" in text(await elsewhere.feed("/advice report"))


async def test_old_questions_are_forgotten_after_the_retention_period(db_path: Path):
    from datetime import datetime, timedelta, timezone

    from bot.clock import frozen_clock

    start = datetime(2027, 1, 1, 12, tzinfo=timezone.utc)
    app = await create_app(db_path, clock=frozen_clock(start))
    try:
        await ConsoleSession(app, user="ada").feed("/advice zzz unanswerable qqq")
        assert (await app.db.fetchone("SELECT count(*) AS n FROM advice_asks"))["n"] == 1
    finally:
        await app.close()
    app = await create_app(db_path, clock=frozen_clock(start + timedelta(days=181)))
    try:
        await app.scheduler.run_due(app.clock.now())  # the daily retention job, overdue after the downtime
        assert (await app.db.fetchone("SELECT count(*) AS n FROM advice_asks"))["n"] == 0
    finally:
        await app.close()


def test_careerbot_advice_report_on_the_command_line(tmp_path: Path):
    db = str(tmp_path / "r.db")
    env_run = [sys.executable, "-m", "bot", "--db", db, "console", "-c", "/advice best banana bread recipe"]
    assert subprocess.run(env_run, capture_output=True, text=True, cwd=REPO, timeout=60, env=subprocess_env()).returncode == 0
    out = subprocess.run([sys.executable, "-m", "bot", "advice", "report", "--db", db],
                         capture_output=True, text=True, cwd=REPO, timeout=60, env=subprocess_env())
    assert out.returncode == 0, out.stderr
    assert "in every community, last 30 days: 1 question" in out.stdout
    assert "1× 'best banana bread recipe' (refused)" in out.stdout


async def test_report_days_must_be_a_sensible_number(app: App):
    mod = ConsoleSession(app, user="mo", role=Role.MODERATOR)
    for bad in ("abc", "0", "-3", "9999"):
        reply = (await mod.feed(f"/advice report {bad}"))[-1]["reply"]
        assert reply["kind"] == "error" and "1 to 365" in reply["text"], (bad, reply["text"])
    ok = (await mod.feed("/advice report 7"))[-1]["reply"]
    assert "last 7 days" in ok["text"]


def test_the_report_command_line_rejects_a_bad_period(tmp_path: Path):
    out = subprocess.run([sys.executable, "-m", "bot", "advice", "report", "--days", "0", "--db", str(tmp_path / "d.db")],
                         capture_output=True, text=True, cwd=REPO, timeout=60, env=subprocess_env())
    assert out.returncode == 2 and "from 1 to 365" in out.stderr and "Traceback" not in out.stderr
