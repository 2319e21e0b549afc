"""The advice knowledge base as data: Markdown files with TOML front matter.

Entries live as files so they can be reviewed like prose and extended per server later;
they are loaded into SQLite at start-up (only when their content changed).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from bot.storage.advice_repo import Entry

MAX_BODY = 1500
MAX_EXAMPLE = 300
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,60}$")


class KnowledgeError(Exception):
    pass


@dataclass
class Catalog:
    topics: dict[str, str] = field(default_factory=dict)  # name -> human title
    sources: dict[str, str] = field(default_factory=dict)  # seed file -> article description


def parse_entry(text: str, origin: str = "<entry>") -> Entry:
    """Parses ``+++`` TOML front matter followed by the Markdown body."""
    parts = text.lstrip("\ufeff").split("+++", 2)
    if len(parts) != 3 or parts[0].strip():
        raise KnowledgeError(f"{origin}: expected '+++' TOML front matter, then the body")
    try:
        meta = tomllib.loads(parts[1])
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeError(f"{origin}: front matter is not valid TOML: {exc}") from None
    body = parts[2].strip()
    missing = [k for k in ("id", "title", "topic", "sources") if not meta.get(k)]
    if missing:
        raise KnowledgeError(f"{origin}: missing {', '.join(missing)}")
    if not _ID.match(meta["id"]):
        raise KnowledgeError(f"{origin}: id {meta['id']!r} must be lowercase letters, digits and dashes")
    if not body:
        raise KnowledgeError(f"{origin}: the body is empty")
    if len(body) > MAX_BODY:
        raise KnowledgeError(f"{origin}: the body is {len(body)} characters; one chat message allows {MAX_BODY}")
    examples = meta.get("examples", [])
    if not isinstance(examples, list) or not all(isinstance(q, str) and q.strip() for q in examples):
        raise KnowledgeError(f"{origin}: examples must be a list of questions")
    if any(len(q) > MAX_EXAMPLE for q in examples):
        raise KnowledgeError(f"{origin}: an example question is longer than {MAX_EXAMPLE} characters")
    return Entry(
        id=meta["id"],
        title=str(meta["title"]).strip(),
        topic=str(meta["topic"]).strip(),
        body=body,
        keywords=tuple(str(k).strip().lower() for k in meta.get("keywords", []) if str(k).strip()),
        sources=tuple(str(s) for s in meta["sources"]),
        examples=tuple(q.strip() for q in examples),
    )


def _package_dir() -> Path:
    return Path(str(resources.files("commands.advice")))


def load_catalog(directory: Path | None = None) -> Catalog:
    path = (directory or _package_dir()) / "sources.toml"
    data = tomllib.loads(path.read_text("utf-8"))
    return Catalog(topics=dict(data.get("topics", {})), sources=dict(data.get("sources", {})))


def load_builtin(directory: Path | None = None) -> tuple[list[Entry], Catalog, str]:
    """Returns the entries, the catalog and a hash of all of it (to skip unchanged reloads)."""
    base = directory or _package_dir()
    catalog = load_catalog(base)
    digest = hashlib.sha256()
    entries: list[Entry] = []
    seen: set[str] = set()
    for path in sorted((base / "entries").glob("*.md")):
        text = path.read_text("utf-8")
        digest.update(path.name.encode() + b"\0" + text.encode())
        entry = parse_entry(text, path.name)
        if entry.id in seen:
            raise KnowledgeError(f"{path.name}: duplicate id {entry.id!r}")
        if entry.topic not in catalog.topics:
            raise KnowledgeError(f"{path.name}: topic {entry.topic!r} is not listed in sources.toml")
        unknown = [s for s in entry.sources if s not in catalog.sources]
        if unknown:
            raise KnowledgeError(f"{path.name}: unknown source {unknown[0]!r}")
        seen.add(entry.id)
        entries.append(entry)
    digest.update((base / "sources.toml").read_bytes())
    return entries, catalog, digest.hexdigest()
