"""Scores advice search: hit@1, hit@3, refusal accuracy, confidently-wrong answers, confusions.

Rule (from shared/advice-dev.jsonl): an answer passes when the entry's text contains at
least one keyword of every group in ``must_mention_any``; out-of-domain rows pass only when
the search refuses (``{"matches": []}`` from the CLI). hit@1 and hit@3 count the listed
matches best first, whether the bot answered or offered them as choices ("unsure");
*confidently wrong* counts answerable questions answered (not unsure) with a failing entry first.

    python bench/advice_eval.py                          # ../shared/advice-dev*.jsonl and the tuning set
    python bench/advice_eval.py bench/advice_student.jsonl --show-misses
    python bench/advice_eval.py FILE --subprocess        # run the installed `careerbot` per question

By default one app is opened in this process and ``AdviceService.search`` (what the CLI and
``/advice`` call) answers every question; ``--subprocess`` checks the CLI's JSON end to end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
DEFAULT_FILES = [SHARED / "advice-dev.jsonl", SHARED / "advice-dev-casual.jsonl", ROOT / "bench" / "advice_student.jsonl"]


def passes(match: dict, groups: list[list[str]]) -> bool:
    text = f"{match['title']}\n{match['body']}".lower()
    return all(any(k.lower() in text for k in group) for group in groups)


def cli_ask(question: str, db: str) -> dict:
    argv = ["careerbot", "advice", question, "--json", "--status", "--limit", "3", "--db", db]
    return json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)


async def answers(questions: list[str], use_subprocess: bool) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "eval.db")
        if use_subprocess:
            return [cli_ask(q, db) for q in questions]
        from commands import create_app
        from commands.advice import service

        app = await create_app(db)
        try:
            svc = service(app)
            out = []
            for q in questions:
                a = svc.search(q, limit=3)
                matches = [] if a.status == "refused" else [
                    {"id": m.entry.id, "title": m.entry.title, "body": m.entry.body} for m in a.matches
                ]
                out.append({"status": a.status, "matches": matches})
            return out
        finally:
            await app.close()


def evaluate(path: Path, use_subprocess: bool = False, show_misses: bool = False) -> dict:
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    results = asyncio.run(answers([r["question"] for r in rows], use_subprocess))
    c: Counter[str] = Counter()
    confusions: list[str] = []
    for row, res in zip(rows, results):
        matches, status = res["matches"], res.get("status", "answer" if res["matches"] else "refused")
        if row["answerable"]:
            c["answerable"] += 1
            ok1 = bool(matches) and passes(matches[0], row["must_mention_any"])
            ok3 = any(passes(m, row["must_mention_any"]) for m in matches[:3])
            c["hit1"] += ok1
            c["hit3"] += ok3
            c["unsure"] += status == "unsure"
            c["refused_in"] += not matches
            wrong = status == "answer" and not ok1
            c["wrong"] += wrong
            if not ok1:
                got = ", ".join(m["id"] for m in matches) or "(refused)"
                tag = "WRONG" if wrong else ("refused" if not matches else status + ("" if ok3 else "@3"))
                confusions.append(f"  {tag:8} {row['id']}: {row['question']!r} -> {got}")
        else:
            c["ood"] += 1
            c["ood_refused"] += not matches
            if matches:
                confusions.append(f"  ANSWERED {row['id']}: {row['question']!r} -> {matches[0]['id']} ({status})")
    if show_misses:
        print("\n".join(confusions))
    n, o = c["answerable"] or 1, c["ood"] or 1
    return {
        "questions": len(rows), "answerable": c["answerable"], "hit@1": c["hit1"] / n, "hit@3": c["hit3"] / n,
        "unsure": c["unsure"] / n, "refused_in_domain": c["refused_in"] / n, "confidently_wrong": c["wrong"] / n,
        "out_of_domain": c["ood"], "refusal_accuracy": c["ood_refused"] / o if c["ood"] else float("nan"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES)
    parser.add_argument("--subprocess", action="store_true", help="run the `careerbot` console script per question")
    parser.add_argument("--show-misses", action="store_true", help="print the confusion list (question -> wrong entry)")
    args = parser.parse_args()
    for path in args.files:
        if not path.exists():
            print(f"{path}: not found (the dev sets live in ../shared beside the repo)", file=sys.stderr)
            return 1
        r = evaluate(path, args.subprocess, args.show_misses)
        print(
            f"{path.name}: {r['answerable']} in domain: hit@1 {r['hit@1']:.3f}, hit@3 {r['hit@3']:.3f}, "
            f"unsure {r['unsure']:.3f}, refused {r['refused_in_domain']:.3f}, confidently wrong {r['confidently_wrong']:.3f}; "
            f"{r['out_of_domain']} out of domain: refused {r['refusal_accuracy']:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
