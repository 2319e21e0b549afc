"""The built advice index, kept on disk between runs.

Building the index (stemming every example, training the domain model) takes about a quarter of
a second, which is most of a one-shot ``careerbot advice "…"``; unpickling the built one takes a
few hundredths. The file's name is a hash of everything the index is built from (the entries,
the out-of-domain questions, the code of this package, the stemmer's and the embedding model's
versions), so an edited
entry or a new release never reads a stale index: it builds and writes a new one.

A pickle is code, like a ``.pyc`` in ``__pycache__``; it is read only from a directory and a file
owned by this user and writable by no one else. Any failure (no writable cache directory, a
read-only root in a container, a truncated file) falls back to building in memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bot.storage.advice_repo import Entry
from commands.advice import semantic
from commands.advice.search import AdviceIndex

log = logging.getLogger(__name__)
_PREFIX = "advice-index-"


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/careerbot``, else ``~/.cache/careerbot`` (the systemd unit sets XDG_CACHE_HOME)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "careerbot"


def index_key(entries: Sequence[Entry], out_of_domain: Sequence[str], in_domain: Sequence[str] = ()) -> str:
    digest = hashlib.sha256()
    for entry in entries:
        digest.update(json.dumps(asdict(entry), sort_keys=True, ensure_ascii=False).encode())
    digest.update(b"\0ood\0")
    digest.update("\n".join(out_of_domain).encode())
    digest.update(b"\0in\0")
    digest.update("\n".join(in_domain).encode())
    package = resources.files("commands.advice")
    for name in sorted(p.name for p in package.iterdir() if p.name.endswith(".py")):
        digest.update(name.encode() + b"\0" + package.joinpath(name).read_bytes())
    import snowballstemmer

    digest.update(f"{getattr(snowballstemmer, '__version__', '?')} {sys.version} {pickle.HIGHEST_PROTOCOL}".encode())
    digest.update(f"{_version('wordllama')} {semantic.MODEL} {semantic.DIMENSIONS}".encode())  # the sentence vectors
    return digest.hexdigest()[:24]


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def load_or_build(
    entries: list[Entry], out_of_domain: list[str], directory: Path | None = None, in_domain: Sequence[str] = ()
) -> AdviceIndex:
    directory = cache_dir() if directory is None else directory
    key = index_key(entries, out_of_domain, in_domain)
    path = directory / f"{_PREFIX}{key}.pickle"
    index = _read(path)
    if isinstance(index, AdviceIndex):
        return index
    index = AdviceIndex(entries, out_of_domain, in_domain)
    _write(directory, path, index)
    return index


def _private(st: os.stat_result) -> bool:
    return st.st_uid == os.getuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _read(path: Path) -> object | None:
    try:
        with open(path, "rb") as fh:
            if not (_private(os.fstat(fh.fileno())) and _private(os.stat(path.parent))):
                log.warning("advice index cache %s is writable by others; not reading it", path)
                return None
            return pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception as exc:  # a truncated or foreign file: rebuild and overwrite it
        log.info("advice index cache %s unreadable (%s); rebuilding", path, type(exc).__name__)
        return None


def _write(directory: Path, path: Path, index: AdviceIndex) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(index, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        for old in directory.glob(f"{_PREFIX}*.pickle"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.debug("advice index not cached in %s: %s", directory, exc)
