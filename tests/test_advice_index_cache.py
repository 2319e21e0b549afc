"""The built advice index is cached on disk so a one-shot `careerbot advice` starts fast; a
cached index must answer exactly as a freshly built one, and never be stale or untrusted."""

from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys
from pathlib import Path

from bot.storage.advice_repo import Entry
from commands.advice import index_cache, load_builtin, load_in_domain, load_out_of_domain
from commands.advice.search import AdviceIndex
from tests.conftest import subprocess_env

QUESTIONS = ["is kaggle worth it fr", "do i need a phd", "time complexity of heapsort", "whats the best way to network"]


# Indexes here are built as the app builds them: with the labelled questions (asked.txt) on
# both sides; the domain model leans on the nearest asked questions.
def _answers(index) -> list[tuple[str, list[str]]]:  # noqa: ANN001
    return [(a.status, [m.entry.id for m in a.matches]) for a in (index.search(q) for q in QUESTIONS)]


def test_cached_index_answers_like_a_fresh_one(tmp_path: Path) -> None:
    entries, _, _ = load_builtin()
    ood = load_out_of_domain()
    built = index_cache.load_or_build(entries, ood, tmp_path, in_domain=load_in_domain())
    files = list(tmp_path.glob("advice-index-*.pickle"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o077 == 0
    loaded = index_cache.load_or_build(entries, ood, tmp_path, in_domain=load_in_domain())
    assert loaded is not built
    assert _answers(loaded) == _answers(built)
    assert _answers(built)[0][1][0] == "competitions"


def test_an_edited_entry_is_never_answered_from_a_stale_cache(tmp_path: Path) -> None:
    entries, _, _ = load_builtin()
    ood = load_out_of_domain()
    index_cache.load_or_build(entries, ood, tmp_path, in_domain=load_in_domain())
    edited = [dataclasses.replace(e, title="Are heapsort puzzles worth it?") if e.id == "competitions" else e for e in entries]
    index = index_cache.load_or_build(edited, ood, tmp_path, in_domain=load_in_domain())
    assert next(e for e in index.entries if e.id == "competitions").title == "Are heapsort puzzles worth it?"
    assert len(list(tmp_path.glob("advice-index-*.pickle"))) == 1  # the old one is removed


def test_new_labelled_questions_rebuild_the_index_and_teach_its_domain_model(tmp_path: Path) -> None:
    """asked.txt feeds the domain model: a cached index built without a labelled question must
    not keep answering as if it had never been told."""
    entries, _, _ = load_builtin()
    ood, inside = load_out_of_domain(), load_in_domain()
    assert len(inside) > 1000 and len(ood) > 1000  # the labelled sets are packaged
    question = "what will they ask at my bakery job interview tomorrow"
    index = index_cache.load_or_build(entries, ood, tmp_path, in_domain=inside)
    assert index.search(question).status == "refused"
    # Told, many times over, that bakery interview questions are ML-career questions:
    index = index_cache.load_or_build(entries, ood, tmp_path, in_domain=inside + [question] * 40)
    assert index.search(question).status != "refused"
    assert len(list(tmp_path.glob("advice-index-*.pickle"))) == 1


def test_a_corrupt_or_others_writable_cache_is_not_read(tmp_path: Path) -> None:
    entries, _, _ = load_builtin()
    ood = load_out_of_domain()
    index_cache.load_or_build(entries, ood, tmp_path, in_domain=load_in_domain())
    [path] = tmp_path.glob("advice-index-*.pickle")
    path.write_bytes(b"\x80\x05garbage")
    assert _answers(index_cache.load_or_build(entries, ood, tmp_path, in_domain=load_in_domain()))[0][1][0] == "competitions"
    # A planted index (one entry about heapsort) under the right name: read while the file is
    # private, ignored once anyone else could have written it.
    planted = AdviceIndex([Entry("planted", "Heapsort", "misc", "Heapsort is O(n log n).", ("heapsort",))])
    path.write_bytes(pickle.dumps(planted))
    assert [e.id for e in index_cache.load_or_build(entries, ood, tmp_path, in_domain=load_in_domain()).entries] == ["planted"]
    path.write_bytes(pickle.dumps(planted))
    os.chmod(path, 0o666)
    index = index_cache.load_or_build(entries, ood, tmp_path, in_domain=load_in_domain())
    assert len(index.entries) == len(entries) and _answers(index)[0][1][0] == "competitions"


def test_one_shot_advice_with_an_unwritable_cache_still_answers(tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("")
    env = subprocess_env(XDG_CACHE_HOME=str(blocker))
    out = subprocess.run(
        [sys.executable, "-m", "bot", "advice", "is kaggle worth it", "--db", str(tmp_path / "c.db")],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "Kaggle" in out.stdout and "Traceback" not in out.stderr
