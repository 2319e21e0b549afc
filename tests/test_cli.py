"""The `careerbot` command line, run as a separate process the way a user or script runs it."""

from __future__ import annotations

import json
import signal
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import subprocess_env

REPO = Path(__file__).resolve().parent.parent


def careerbot(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, stdin: str | None = None):
    full_env = subprocess_env(**(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd or REPO, input=stdin, timeout=60,
    )


def test_advice_json_has_exactly_the_documented_shape(tmp_path: Path):
    out = careerbot("advice", "how do I prepare for the coding interview", "--json", "--db", str(tmp_path / "a.db"))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert list(data) == ["matches"] and 1 <= len(data["matches"]) <= 3
    first = data["matches"][0]
    assert set(first) == {"id", "title", "body", "topic", "sources", "score"}
    assert first["topic"] == "interview-prep-coding"
    assert all(s.endswith(".txt") for s in first["sources"])
    scores = [m["score"] for m in data["matches"]]
    assert scores == sorted(scores, reverse=True)


def test_advice_json_is_empty_when_nothing_fits(tmp_path: Path):
    out = careerbot("advice", "best lasagne recipe with ricotta", "--json", "--db", str(tmp_path / "a.db"))
    assert out.returncode == 0 and json.loads(out.stdout) == {"matches": []}


def test_advice_limit_and_bad_arguments(tmp_path: Path):
    db = str(tmp_path / "a.db")
    one = careerbot("advice", "where do I find internship postings", "--json", "--limit", "1", "--db", db)
    assert len(json.loads(one.stdout)["matches"]) == 1
    bad = careerbot("advice", "x", "--limit", "0", "--db", db)
    assert bad.returncode == 2 and "from 1 to 10" in bad.stderr
    empty = careerbot("advice", "   ", "--db", db)
    assert empty.returncode == 2 and "question is empty" in empty.stderr and "Traceback" not in empty.stderr


def test_advice_plain_text_output(tmp_path: Path):
    out = careerbot("advice", "is kaggle worth it", "--db", str(tmp_path / "a.db"))
    assert out.returncode == 0 and "Kaggle" in out.stdout and "Based on:" in out.stdout


def test_console_lines_in_order_with_json(tmp_path: Path):
    out = careerbot(
        "console", "--db", str(tmp_path / "c.db"), "--json",
        "-c", "/advice do i need a phd for an ml internship",
        "-c", ":as mod", "-c", ":in #papers", "-c", "/nonsense", "-c", ":tick 2d",
    )
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert [e["type"] for e in events] == ["reply", "meta", "meta", "reply", "meta"]
    assert "PhD" in events[0]["reply"]["cards"][0]["title"]
    assert events[3]["role"] == "moderator" and events[3]["place"] == "#papers"
    assert events[3]["reply"]["kind"] == "error"
    assert events[4]["reply"]["text"].startswith("Clock moved forward 2d; it is now ")


@pytest.mark.parametrize(
    "line",
    ["", "/" + "a" * 10_000, "/advice \x1b[2J\x07\x00", "/definitely-not-a-command", "/advice @everyone", "@here hello"],
)
def test_console_garbage_never_tracebacks(tmp_path: Path, line: str):
    # Through stdin, as typed: argv cannot even carry a NUL byte.
    out = careerbot("console", "--db", str(tmp_path / "g.db"), "--json", stdin=line + "\n")
    assert out.returncode == 0
    assert "Traceback" not in out.stdout + out.stderr
    for raw in ("@everyone", "@here"):
        assert raw not in out.stdout


def test_interactive_console_reads_stdin_until_eof(tmp_path: Path):
    out = careerbot("console", "--db", str(tmp_path / "i.db"), stdin="/advice topics\n:whoami\n:quit\n/help\n")
    assert out.returncode == 0
    assert "Advice topics" in out.stdout and "you (member) in #general" in out.stdout
    assert "careerbot commands" not in out.stdout  # :quit stopped before /help


def test_running_with_no_tokens_opens_the_console(tmp_path: Path):
    out = careerbot("--db", str(tmp_path / "r.db"), stdin="/advice do i need a phd for an ml internship\n")
    assert out.returncode == 0 and "Based on:" in out.stdout


def test_database_problems_are_one_line_errors(tmp_path: Path):
    foreign = tmp_path / "notes.txt"
    foreign.write_text("hello")
    out = careerbot("advice", "x", "--db", str(foreign))
    assert out.returncode == 2
    assert out.stderr.strip() == f"careerbot: {foreign} is not a careerbot database (it is not an SQLite file at all)."
    assert foreign.read_text() == "hello"


def test_bad_settings_name_the_variable_and_hide_secrets(tmp_path: Path):
    level = careerbot("advice", "x", env={"CAREERBOT_LOG_LEVEL": "LOUD"}, cwd=tmp_path)
    assert level.returncode == 2 and "CAREERBOT_LOG_LEVEL" in level.stderr
    token = "xoxp-super-secret-value"
    slack = careerbot("advice", "x", env={"SLACK_BOT_TOKEN": token}, cwd=tmp_path)
    assert slack.returncode == 2 and "SLACK_BOT_TOKEN" in slack.stderr and token not in slack.stderr


def test_env_file_is_read_and_the_environment_wins(tmp_path: Path):
    (tmp_path / ".env").write_text(f"CAREERBOT_DB={tmp_path / 'from-env-file.db'}\n")
    out = careerbot("advice", "is kaggle worth it", "--json", cwd=tmp_path)
    assert out.returncode == 0 and (tmp_path / "from-env-file.db").exists()
    override = careerbot("advice", "is kaggle worth it", "--json", cwd=tmp_path, env={"CAREERBOT_DB": str(tmp_path / "env.db")})
    assert override.returncode == 0 and (tmp_path / "env.db").exists()


def test_output_piped_into_head_ends_quietly(tmp_path: Path):
    """`careerbot advice … | head -1`: the reader leaves early; no traceback, status 0."""
    for args in (["advice", "do i need a phd", "--limit", "10"], ["console", "-c", "/advice topics", "-c", "/help"]):
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "--db", str(tmp_path / "p.db"), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        first = proc.stdout.readline()  # read one line, then hang up like head does
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 0 and first, err
        assert "Traceback" not in err and "BrokenPipe" not in err


def test_ctrl_c_at_the_console_prompt_leaves_at_once_with_status_0(tmp_path: Path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--db", str(tmp_path / "c.db"), "console"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, text=True,
    )
    proc.stdin.write(":whoami\n")
    proc.stdin.flush()
    assert "you" in proc.stdout.readline()  # the console answered: it now waits at the prompt
    proc.send_signal(signal.SIGINT)  # stdin stays open: only Ctrl-C can end it
    assert proc.wait(timeout=10) == 0
    assert "Traceback" not in proc.stderr.read()
    proc.stdin.close()


def _postgres_with_password(password: str) -> str | None:
    from urllib.parse import urlsplit, urlunsplit

    from tests.conftest import postgres_url

    url = postgres_url()
    if url is None:
        return None
    parts = urlsplit(url)
    netloc = f"{parts.username or 'postgres'}:{password}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


@pytest.mark.parametrize("case", ["wrong password", "nothing listening", "port out of range"])
def test_a_bad_database_url_is_a_short_error_without_its_password(tmp_path: Path, case: str):
    secret = "Sup3r-Secret-Pw"
    if case == "wrong password":
        url = _postgres_with_password(secret)
        if url is None:
            from tests.conftest import NO_POSTGRES

            pytest.skip(NO_POSTGRES)
        expected = "password authentication failed"
    elif case == "nothing listening":
        url, expected = f"postgresql://careerbot:{secret}@127.0.0.1:9/careerbot", "cannot connect to the database postgresql://careerbot:***@127.0.0.1:9/careerbot"
    else:
        url, expected = f"postgresql://careerbot:{secret}@127.0.0.1:99999/careerbot", "--db=postgresql://(unreadable URL) is not a usable PostgreSQL URL"
    for args in (["advice", "is kaggle worth it"], ["db", "check"], ["console", "-c", "/help"]):
        out = careerbot("--db", url, *args, cwd=tmp_path)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert out.stderr.startswith("careerbot: ") and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert expected in out.stderr and "Traceback" not in out.stderr
        assert secret not in out.stdout + out.stderr
    assert list(tmp_path.iterdir()) == []  # no file was made for a URL


@pytest.mark.parametrize("args, message", [
    (["--shard-count", "0"], "--shard-count must be 1 or more"),
    (["--shards", "0-2"], "--shards needs --shard-count"),
    (["--shards", "a-b", "--shard-count", "4"], "write a range such as 0-2"),
    (["--roles", ""], "use a comma-separated list"),
])
def test_bad_serve_options_are_one_clear_line_and_create_nothing(tmp_path: Path, args: list[str], message: str):
    db = tmp_path / "never.db"
    out = careerbot("--db", str(db), "serve", *args, env=subprocess_env(DISCORD_TOKEN="test-token"), cwd=tmp_path)
    assert out.returncode == 2 and message in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not db.exists()
