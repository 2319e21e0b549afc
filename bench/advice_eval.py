"""Scores advice search from the CLI's JSON: hit@1, hit@3 and refusal accuracy.

Rule (from shared/advice-dev.jsonl): an answer passes when the entry's text contains at
least one keyword of every group in ``must_mention_any``; unanswerable rows pass only when
the CLI returns ``{"matches": []}``. hit@3 counts a pass among the first three matches.

    python bench/advice_eval.py                         # ../shared/advice-dev.jsonl
    python bench/advice_eval.py bench/advice_holdout.jsonl --show-misses
    python bench/advice_eval.py FILE --subprocess       # run the installed `careerbot` per question

By default the CLI's ``main()`` runs in this process with stdout captured: the same code
and the same JSON as the console script, without 100 interpreter start-ups.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_FILE = ROOT.parent / "shared" / "advice-dev.jsonl"


def passes(match: dict, groups: list[list[str]]) -> bool:
    text = f"{match['title']}\n{match['body']}".lower()
    return all(any(k.lower() in text for k in group) for group in groups)


def ask(question: str, db: str, use_subprocess: bool) -> list[dict]:
    argv = ["advice", question, "--json", "--limit", "3", "--db", db]
    if use_subprocess:
        out = subprocess.run(["careerbot", *argv], capture_output=True, text=True, check=True).stdout
    else:
        from bot.cli import main

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            status = main(argv)
        if status != 0:
            raise RuntimeError(f"careerbot advice exited {status} for {question!r}")
        out = buf.getvalue()
    return json.loads(out)["matches"]


def evaluate(path: Path, use_subprocess: bool = False, show_misses: bool = False) -> dict[str, float]:
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    hit1 = hit3 = answerable = refused_ok = unanswerable = 0
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "eval.db")
        for row in rows:
            matches = ask(row["question"], db, use_subprocess)
            if row["answerable"]:
                answerable += 1
                ok1 = bool(matches) and passes(matches[0], row["must_mention_any"])
                ok3 = any(passes(m, row["must_mention_any"]) for m in matches[:3])
                hit1 += ok1
                hit3 += ok3
                if show_misses and not ok1:
                    got = ", ".join(m["id"] for m in matches) or "(refused)"
                    print(f"  miss{'' if ok3 else '@3'} {row['id']}: {row['question']!r} -> {got}")
            else:
                unanswerable += 1
                refused_ok += not matches
                if show_misses and matches:
                    print(f"  answered {row['id']}: {row['question']!r} -> {matches[0]['id']}")
    return {
        "questions": len(rows),
        "answerable": answerable,
        "hit@1": hit1 / answerable if answerable else float("nan"),
        "hit@3": hit3 / answerable if answerable else float("nan"),
        "unanswerable": unanswerable,
        "refusal_accuracy": refused_ok / unanswerable if unanswerable else float("nan"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=[DEFAULT_FILE])
    parser.add_argument("--subprocess", action="store_true", help="run the `careerbot` console script per question")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    for path in args.files:
        if not path.exists():
            print(f"{path}: not found (the dev set lives in ../shared beside the repo)", file=sys.stderr)
            return 1
        r = evaluate(path, args.subprocess, args.show_misses)
        print(
            f"{path.name}: {r['answerable']} answerable, hit@1 {r['hit@1']:.3f}, hit@3 {r['hit@3']:.3f}; "
            f"{r['unanswerable']} unanswerable, refusal accuracy {r['refusal_accuracy']:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
