"""Logs never show a secret (exception text included), come as JSON lines on request, and an
interactive console keeps them off the screen."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config, secrets_of
from bot.logs import JsonFormatter, Redactor, TextFormatter
from tests.conftest import subprocess_env

REPO = Path(__file__).resolve().parent.parent
DISCORD = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gabcde.abcdefghijklmnopqrstuvwxyz0123"
SLACK = "xoxb-123456789012-123456789012-abcdefABCDEF1234"
SIGNING = "8f3a9c0d2e7b41c5a6f0e9d8c7b6a5f4"


def record(msg: str, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("careerbot.test", logging.ERROR, __file__, 1, msg, (), exc_info)


def failing() -> BaseException:
    try:
        raise RuntimeError(f"401 from Slack with Authorization: Bearer {SLACK} and secret {SIGNING}")
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize("formatter", [TextFormatter, JsonFormatter])
def test_secrets_are_redacted_everywhere_including_tracebacks(formatter):
    config = load_config(environ={"DISCORD_TOKEN": DISCORD, "SLACK_BOT_TOKEN": SLACK, "SLACK_SIGNING_SECRET": SIGNING}, env_file=None)
    fmt = formatter(Redactor(secrets_of(config)))
    text = fmt.format(record(f"gateway said hello to {DISCORD}", failing()))
    for secret in (DISCORD, SLACK, SIGNING):
        assert secret not in text
    assert "[redacted]" in text and "RuntimeError" in text and "401 from Slack" in text


def test_token_shapes_are_redacted_even_when_the_config_never_saw_them():
    redact = Redactor()
    other = "xapp-1-A0123456789-1234567890123-abcdef0123456789"
    line = redact(f"tokens {other} and {SLACK} and 'authorization': 'Bot {DISCORD}'")
    assert other not in line and SLACK not in line and DISCORD not in line


def test_json_lines_parse_and_carry_the_exception():
    line = JsonFormatter(Redactor([SIGNING])).format(record("boom", failing()))
    doc = json.loads(line)
    assert doc["level"] == "ERROR" and doc["logger"] == "careerbot.test" and doc["msg"] == "boom"
    assert "RuntimeError" in doc["exc"] and SIGNING not in doc["exc"]


def test_a_bad_log_format_is_refused_by_name():
    with pytest.raises(ConfigError, match="CAREERBOT_LOG_FORMAT='yaml' is not valid; use text or json"):
        load_config(environ={"CAREERBOT_LOG_FORMAT": "yaml"}, env_file=None)


def test_the_process_logs_json_with_no_secret(tmp_path: Path):
    env = subprocess_env(CAREERBOT_LOG_FORMAT="json", CAREERBOT_LOG_LEVEL="INFO", SLACK_BOT_TOKEN=SLACK)
    out = subprocess.run([sys.executable, "-m", "bot", "--db", str(tmp_path / "l.db"), "console", "-c", "/advice topics"],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stderr.splitlines() if line.strip()]
    assert lines and all({"ts", "level", "logger", "msg"} <= set(d) for d in lines)
    assert SLACK not in out.stderr + out.stdout


def test_an_interactive_console_logs_to_a_file_beside_the_database(tmp_path: Path):
    """Run under a pseudo-terminal, as a person would: the warning goes to careerbot.log, not the screen."""
    import pty

    env = subprocess_env(CAREERBOT_LOG_LEVEL="INFO")
    pid, fd = pty.fork()
    if pid == 0:  # the child: careerbot on a terminal
        os.chdir(REPO)
        os.execve(sys.executable, [sys.executable, "-m", "bot", "--db", str(tmp_path / "t.db"), "console"], env)
    screen = b""
    try:
        os.write(fd, b":quit\n")
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
    finally:
        _, status = os.waitpid(pid, 0)
    text = screen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    log = tmp_path / "careerbot.log"
    assert f"Logs go to {log}" in text.replace("\r\n", " ").replace("\n", " ") or str(log) in text
    assert log.exists() and log.read_text().strip()  # INFO lines went to the file...
    assert " INFO " not in text  # ...and none to the screen
