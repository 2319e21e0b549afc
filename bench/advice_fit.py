"""Refits the two small decision models in commands/advice/search.py and prints their weights.

After the knowledge base, its examples or out_of_domain.txt change, the signals shift and the
constants DOMAIN_WEIGHTS/DOMAIN_BIAS and UNSURE_WEIGHTS/UNSURE_BIAS should be refitted:

    python bench/advice_fit.py                       # the tuning and dev sets
    python bench/advice_fit.py FILE.jsonl ...        # or these

1. In domain? Logistic regression on (naive-Bayes log-odds for, against, best example match,
   coverage, strongest domain word) with answerable as the label; prints, per threshold, the
   share of in-domain questions kept and of out-of-domain ones refused.
2. Sure enough? Logistic regression on (runner-up ratio, first score, best example, coverage,
   domain score) with "the first entry passes the keyword check" as the label, over the
   answered in-domain questions; prints, per share made unsure, the confidently-wrong rate.

Never fit on a held-out set you still mean to report: score it first, then add it here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
# The tuning sets. advice_untouched4/5 are validation sets and advice_untouched6 is the final
# held-out judge: none of them belongs here.
DEFAULT = [ROOT / "bench" / "advice_student.jsonl", SHARED / "advice-dev-casual.jsonl", SHARED / "advice-dev.jsonl",
           ROOT / "bench" / "advice_holdout.jsonl", ROOT / "bench" / "advice_final.jsonl",
           ROOT / "bench" / "advice_untouched.jsonl", ROOT / "bench" / "advice_untouched2.jsonl",
           ROOT / "bench" / "advice_untouched3.jsonl"]


def logistic(xs: list[list[float]], ys: list[int], epochs: int = 3000) -> tuple[list[float], float]:
    """Batch gradient descent on standardised features; returns raw-space weights and bias."""
    n = len(xs[0])
    mu = [sum(x[i] for x in xs) / len(xs) for i in range(n)]
    sd = [max(1e-6, (sum((x[i] - mu[i]) ** 2 for x in xs) / len(xs)) ** 0.5) for i in range(n)]
    zs = [[(x[i] - mu[i]) / sd[i] for i in range(n)] for x in xs]
    w, b = [0.0] * n, 0.0
    for _ in range(epochs):
        gw, gb = [0.0] * n, 0.0
        for z, y in zip(zs, ys):
            p = 1 / (1 + math.exp(-max(-30.0, min(30.0, sum(a * c for a, c in zip(w, z)) + b))))
            for i in range(n):
                gw[i] += (p - y) * z[i]
            gb += p - y
        w = [wi - 0.1 * (g / len(zs) + 0.001 * wi) for wi, g in zip(w, gw)]
        b -= 0.1 * gb / len(zs)
    raw = [w[i] / sd[i] for i in range(n)]
    return raw, b - sum(w[i] * mu[i] / sd[i] for i in range(n))


async def signals(rows: list[dict]) -> tuple[list, list]:
    from bench.advice_eval import passes
    from commands import create_app
    from commands.advice import service
    from commands.advice.search import DOMAIN_THRESHOLD

    domain_rows, sure_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        app = await create_app(Path(tmp) / "fit.db")
        try:
            idx = service(app).index
            for r in rows:
                q = r["question"]
                ranked, best = idx.rank(idx.analyze(q))
                terms = idx._domain_terms(q)
                nb = idx.domain.score(terms)
                strongest = max([idx.domain.llr.get(t, 0.0) for t, _ in terms] + [0.0])
                conf = ranked[0].confidence if ranked else 0.0
                domain_rows.append(([max(nb, 0.0), min(nb, 0.0), best, conf, strongest], int(r["answerable"])))
                if r["answerable"] and ranked and idx.domain_score(q, ranked, best) >= DOMAIN_THRESHOLD:
                    top = ranked[0]
                    ratio = ranked[1].score / top.score if len(ranked) > 1 else 0.0
                    ok = passes({"title": top.entry.title, "body": top.entry.body}, r["must_mention_any"])
                    dom = idx.domain_score(q, ranked, best)
                    sure_rows.append(([ratio, top.score, best, top.confidence, dom], int(ok)))
        finally:
            await app.close()
    return domain_rows, sure_rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=DEFAULT)
    args = parser.parse_args()
    rows = [json.loads(line) for f in args.files if f.exists() for line in f.read_text("utf-8").splitlines() if line.strip()]
    domain_rows, sure_rows = asyncio.run(signals(rows))

    xs, ys = [x for x, _ in domain_rows], [y for _, y in domain_rows]
    w, b = logistic(xs, ys)
    print(f"DOMAIN_WEIGHTS = ({', '.join(f'{c:.3f}' for c in w)})\nDOMAIN_BIAS = {b:.3f}")
    for thr in (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5):
        scores = [sum(c * v for c, v in zip(w, x)) + b for x in xs]
        kept = sum(1 for s, y in zip(scores, ys) if y and s >= thr) / max(1, sum(ys))
        refused = sum(1 for s, y in zip(scores, ys) if not y and s < thr) / max(1, len(ys) - sum(ys))
        print(f"  threshold {thr:+.1f}: in-domain kept {kept:.3f}, out-of-domain refused {refused:.3f}")

    xs, ys = [x for x, _ in sure_rows], [y for _, y in sure_rows]
    w, b = logistic(xs, ys)
    print(f"UNSURE_WEIGHTS = ({', '.join(f'{c:.3f}' for c in w)})\nUNSURE_BIAS = {b:.3f}")
    scores = sorted(sum(c * v for c, v in zip(w, x)) + b for x in xs)
    for share in (0.0, 0.1, 0.15, 0.2, 0.25, 0.3):
        thr = scores[int(share * len(scores))] if share else -99.0
        wrong = sum(1 for x, y in zip(xs, ys) if sum(c * v for c, v in zip(w, x)) + b >= thr and not y) / len(xs)
        print(f"  SURE_THRESHOLD {thr:.2f}: {share:.0%} unsure, {wrong:.3f} confidently wrong")
    return 0


if __name__ == "__main__":
    sys.exit(main())
