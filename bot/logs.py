"""Logging that is safe to ship: secrets never appear, JSON lines on request, and an
interactive console whose log lines never land in the middle of a reply.

Redaction works on the final text of a record, exception and traceback included, so a
token that reaches a log line by any route (an error message quoting a header, a library's
repr of a request) is replaced. Known secrets are matched exactly; well-known token shapes
(Slack ``xox?-``/``xapp-``, Discord bot tokens, ``Authorization`` values) are matched too,
for tokens the config never saw.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

REDACTED = "[redacted]"
_SHAPES = [
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{8,}"),
    re.compile(r"\bxapp-[A-Za-z0-9-]{8,}"),
    re.compile(r"\b[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}\b"),
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:bot|bearer)\s+)[^\s'\",}]+"),
]


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        for shape in _SHAPES:
            text = shape.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
        return text


class TextFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what log shippers (journald, Docker, Loki) parse without rules."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": self.redact(record.getMessage()),
        }
        if record.exc_info:
            doc["exc"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(doc, ensure_ascii=False)


def configure_logging(level: str, fmt: str = "text", secrets: Iterable[str] = (), file: Path | None = None) -> None:
    """Replaces the root handlers: stderr, or ``file`` (the interactive console's, so log lines
    never interleave with replies on the screen)."""
    redact = Redactor(secrets)
    handler: logging.Handler = logging.FileHandler(file, encoding="utf-8") if file else logging.StreamHandler()
    handler.setFormatter(JsonFormatter(redact) if fmt == "json" else TextFormatter(redact))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level, logging.WARNING))
