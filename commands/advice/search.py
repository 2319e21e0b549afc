"""Ranking advice entries for a free-text question, and knowing when not to answer.

Two questions are decided separately:

1. **Is this about ML careers at all?** (``DomainModel``) A naive-Bayes model over word stems
   and stem pairs, trained at start-up on every entry's example questions and titles and on the
   questions students asked in our labelled sets (``asked.txt``: in domain) and on
   ``out_of_domain.txt`` plus the labelled sets' refusals (near-domain questions we must refuse:
   ML homework, conference deadlines, gaming GPUs, salaries, a bakery internship...). Words it
   has never seen say nothing either way, so one unknown word cannot turn a right answer into a
   refusal. Beside the words, sentence vectors (``semantic``) say how close the question is to
   the nearest questions on either side: a question much like ones we refuse is refused even
   when its words are ours ("ML internship" inside a salary question).
2. **Which entry answers it?** BM25F over keywords, title, body and example questions on
   Snowball stems (plus stem bigrams), combined with the example questions' vote (the closest one
   plus a share of the next two), by how close in meaning its closest example and its closest
   body sentence are, and by a
   classifier trained at start-up on the examples' sentence vectors (which entry is this one
   of?), so "is kaggle legit" finds the entry whose examples ask exactly that, and "do
   companies run virtual internships well" the one about remote work. Company names are weak evidence
   ("no-name uni ... google brain" is about universities).

In domain but with two entries close together, the answer is *unsure*: the closest entries are
offered as choices instead of one picked confidently. Out of domain, nothing is answered.

The index is built in memory from the rows in SQLite (under a hundred entries, about a
thousand examples): a search is dictionary look-ups and three small matrix products, about a
millisecond.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from bot.storage.advice_repo import Entry
from commands.advice import semantic
from commands.advice.language import WEAK_WORDS, content_words, damerau, stem, stems

FIELD_WEIGHTS = {"keywords": 3.0, "title": 2.0, "body": 1.0, "examples": 1.5}
K1 = 1.2
B = 0.6
SYNONYM_WEIGHT = 0.7
WEAK_WEIGHT = 0.3  # company names: "no-name uni ... google brain" is about universities
BIGRAM_WEIGHT = 0.5
EXAMPLE_WEIGHT = 1.0  # how much the example questions add, relative to the normalised BM25F
# The examples' vote is the closest example plus this share of the mean of the next ones: an
# entry whose several examples all resemble the question is likelier than one with a single
# lucky example ("phd" in one example question of an unrelated entry).
NEIGHBOUR_EXAMPLES = 2
NEIGHBOUR_WEIGHT = 0.8
# Meaning beside words (``semantic``): each entry's closest example question by sentence vector
# adds this much to its score.
SEMANTIC_WEIGHT = 1.3
# ...and its closest body sentence adds this much: a question about a detail ("which roles do
# Apple's interns work with") is often closest to the sentence that states it, not to any example.
BODY_WEIGHT = 0.7
# ...and a classifier trained on those vectors (which entry does an example belong to?) adds this
# times its probability: it learns what tells entries apart, where the closest example only
# says what is alike. Multinomial logistic regression on the scaled unit vectors, L2-penalised.
CLASSIFIER_WEIGHT = 1.5
CLASSIFIER_SCALE = 8.0
CLASSIFIER_L2 = 0.003
NEAREST = 3  # the domain signals compare a question with its 3 nearest asked questions on each side
# Both decision models below are refitted with `python bench/advice_fit.py SETS...`.
# Is it in domain? A linear score of nine signals, fitted (logistic regression) on our labelled
# sets: the naive-Bayes log-odds (evidence against weighs more than evidence for), how
# closely one example question matches, the share of the question the best entry covers, and
# the strongest in-domain and the strongest foreign word ("bakery" in an internship question);
# then by sentence vector the closest example, and how close the nearest questions we refuse
# (strongly against) and the nearest we answer are.
# A word nobody has seen counts for nothing; a word seen only in questions we refuse
# ("accounting", "gaming") counts as part of what is asked.
DOMAIN_WEIGHTS = (0.125, 0.238, -0.127, 2.822, 1.023, 0.923, 5.491, -15.538, 9.990)
DOMAIN_BIAS = -2.106
DOMAIN_THRESHOLD = 0.5  # cross-fitted on the labelled sets: 1.5 % of ours refused, 3.3 % of others answered (fresh sets: 1-2 % and 7-10 %)
DOMAIN_FROM_BODIES = True  # the domain model also learns the entries' own sentences (more in-domain words)
RANK_QUESTION_WORDS = True  # who/when/where/why/which/how rank ("who will interview me"); the domain model ignores them
FOREIGN_WEIGHT = 1.0  # a word seen only in refused questions weighs as much as the rarest knowledge-base word
# Sure enough to answer with one entry? Fitted the same way on whether the first entry was
# right: the runner-up's score relative to the first, the first's score, the closest example,
# the first's coverage and the domain score. Below the threshold the closest entries are
# offered as choices instead. The threshold is picked on the labelled sets' trade-off curve
# (confidently wrong against share answered outright, `bench/advice_fit.py`): a fresh set's
# questions were answered wrongly about twice as often as the labelled sets' own (2.0 aimed at
# ~3 % and a fresh set then got 5.5 %), so it aims at about 2.5 % there (2.2: about a third of
# the labelled questions get choices), with two thirds still answered outright.
UNSURE_WEIGHTS = (-5.132, 0.108, -1.709, 1.504, 0.076)
UNSURE_BIAS = 5.283
SURE_THRESHOLD = 2.2
TIE_RATIO = 0.95  # two entries this close are a tie whatever else the signals say
TIE_RATIO_ONE_WORD = 0.85  # ...and a one-word question ("interviews") says even less
SEE_ALSO_RATIO = 0.45

# Student shorthand -> words the entries use. Kept general: it describes how people talk
# about ML careers, not any particular question.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "cv": ("resume",), "resume": ("cv",), "university": ("college",), "college": ("university",),
    "school": ("university",), "professor": ("advisor", "academic"), "supervisor": ("advisor", "mentor"),
    "tf": ("tensorflow",), "dl": ("deep", "learning"), "ml": ("machine", "learning"), "nn": ("neural", "network"),
    "cnn": ("neural", "network"), "llm": ("language", "model"), "nlp": ("language",),
    "faang": ("google", "big", "company"), "maang": ("google", "big", "company"),
    "gpu": ("hardware", "colab"), "gpus": ("hardware", "colab"), "compute": ("gpu", "hardware"),
    "laptop": ("hardware", "gpu"), "colab": ("gpu",), "cloud": ("aws",),
    "leetcode": ("coding", "interview"), "dsa": ("data", "structure", "algorithm"),
    "kaggle": ("competition",), "hackathon": ("competition",), "contest": ("competition",),
    "github": ("portfolio", "open"), "repo": ("github",), "pr": ("pull", "request", "open", "source"),
    "oss": ("open", "source"), "linkedin": ("network",), "cold": ("reach", "email"),
    "recruiter": ("recruit",), "referral": ("refer", "recommend"), "refer": ("referral", "recommend"),
    "recommendation": ("referral", "recommend"), "internship": ("intern",), "intern": ("internship",),
    "job": ("posting", "role"), "jobs": ("posting", "role"), "opening": ("posting",), "openings": ("posting",),
    "listing": ("posting",), "listings": ("posting",), "remote": ("virtual",), "wfh": ("remote",),
    "virtual": ("remote",), "international": ("abroad", "country", "visa"), "abroad": ("international", "country"),
    "visa": ("international", "country"), "usa": ("us", "america"), "america": ("us",),
    "math": ("mathematics",), "maths": ("math", "mathematics"), "stats": ("statistics",),
    "mooc": ("course", "online"), "moocs": ("course", "online"), "coursera": ("course", "mooc"),
    "udemy": ("course", "mooc"), "certificate": ("certification",), "paper": ("publication",),
    "papers": ("publication", "read"), "publish": ("publication",), "arxiv": ("paper", "read"),
    "conference": ("venue",), "freshman": ("undergraduate", "first", "year"), "sophomore": ("undergraduate",),
    "undergrad": ("undergraduate", "bachelor"), "grad": ("graduate",), "master": ("graduate",),
    "doctorate": ("phd",), "doctoral": ("phd",), "startup": ("small", "company"), "salary": ("paid",),
    "pay": ("paid",), "paid": ("salary",), "mentor": ("mentorship",), "boss": ("manager", "mentor"),
    "manager": ("mentor",), "behavioral": ("interview",), "onsite": ("interview",), "screen": ("interview",),
    "assessment": ("coding", "test"), "portfolio": ("project",), "project": ("portfolio",),
    "projects": ("portfolio",), "website": ("presence", "blog"), "blog": ("presence", "website"),
    "docker": ("software", "engineering", "tool"), "kubernetes": ("software", "engineering", "tool"),
    "sql": ("database",), "git": ("version", "control"), "mandatory": ("required", "requirement"),
    "necessary": ("required", "requirement"), "essential": ("required", "requirement"),
    "compulsory": ("required", "requirement"), "prerequisite": ("required", "requirement"),
    "round": ("interview",), "rounds": ("interview",), "rejected": ("rejection",), "rejection": ("persist",),
    "ghosted": ("rejection",), "deadline": ("timing", "apply"), "deadlines": ("timing", "apply"),
    "early": ("timing",), "late": ("timing",), "summer": ("timing",), "passion": ("enthusiasm",),
    "passionate": ("enthusiasm",), "excited": ("enthusiasm",), "motivated": ("enthusiasm",),
    "interviewer": ("interview",), "interviewers": ("interview",),
    "return": ("offer", "full", "time"), "need": ("required", "requirement"), "must": ("required",), "fulltime": ("full", "time", "offer"), "unknown": ("top", "university"),
}


def _deletes(term: str) -> set[str]:
    return {term[:i] + term[i + 1 :] for i in range(len(term))}


MIN_TYPO_LENGTH = 5  # shorter stems ("alon", "host", "luck") are mostly other real words, not typos


class Vocabulary:
    """Known stems with their frequencies, and typo correction against them.

    Symmetric deletion: each known stem is filed under itself and its one-letter deletions,
    so an unknown stem finds candidates by looking up its own deletions; the edit distance is
    then checked exactly (one edit for short words, two from eight letters on).
    """

    def __init__(self, counts: Counter[str]) -> None:
        self.counts = counts
        self._by_deletion: dict[str, set[str]] = defaultdict(set)
        for term in counts:
            if "_" not in term and len(term) >= 4:
                self._by_deletion[term].add(term)
                for d in _deletes(term):
                    self._by_deletion[d].add(term)
        self._cache: dict[str, str | None] = {}

    def __contains__(self, term: str) -> bool:
        return term in self.counts

    def term(self, word: str) -> str:
        """The stem of a question word, or the known stem it is a typo of."""
        s = stem(word)
        return s if s in self.counts else (self.correct(s) or s)

    def correct(self, term: str) -> str | None:
        if term in self._cache:
            return self._cache[term]
        best = None
        if len(term) >= MIN_TYPO_LENGTH and not term.isdigit():
            keys = {term} | _deletes(term)
            if len(term) >= 8:
                keys |= {d2 for d in _deletes(term) for d2 in _deletes(d)}
            candidates = set().union(*(self._by_deletion.get(k, set()) for k in keys))
            limit = 2 if len(term) >= 8 else 1
            if len(term) < 7:
                # A short word is a typo when a letter was dropped or two swapped ("reserch",
                # "intrest"); one letter for another mostly makes another real word ("print" is
                # not "point", "parti" (party) is not "part").
                candidates = {c for c in candidates if len(c) > len(term) or (len(c) == len(term) and sorted(c) == sorted(term))}
            elif len(term) < 8:  # "complet" (complete) is not "complex"
                candidates = {c for c in candidates if len(c) != len(term) or sorted(c) == sorted(term)}
            scored = [(damerau(term, c, limit), -self.counts[c], c) for c in candidates]
            scored = [s for s in scored if s[0] <= limit]
            if scored:
                best = min(scored)[2]
        self._cache[term] = best
        return best


@dataclass
class Match:
    entry: Entry
    score: float
    confidence: float  # the share of the question's weight this entry matches
    words: float = 0.0  # the part of the score that comes from words (without the sentence vectors)


@dataclass
class Answer:
    """What a search decided: ``answer`` (first match is it), ``unsure`` (one of the matches,
    best first) or ``refused`` (not about ML careers, or nothing in the knowledge base)."""

    status: str
    matches: list[Match] = field(default_factory=list)
    nearest_topics: list[str] = field(default_factory=list)  # for a refusal: what we do cover
    domain: float = 0.0

    @property
    def entries(self) -> list[Entry]:
        return [m.entry for m in self.matches]


@dataclass
class Assessment:
    """What the search saw in one question, before deciding: ``search`` decides from it, and
    ``bench/advice_fit.py`` fits the decision models on the same signals."""

    concepts: list[_Concept]
    ranked: list[Match]
    best_example: float
    domain_signals: tuple[float, ...]
    domain: float


@dataclass
class _Concept:
    """One content word of the question with the index terms that may stand for it."""

    word: str
    alternatives: dict[str, float]  # index term -> weight of its score
    weight: float  # its share of the question, by rarity in the knowledge base (0: unknown)


class DomainModel:
    """Naive Bayes log-odds that a question is about ML careers rather than something near it,
    and the questions students asked on either side, as sentence vectors: the nearest ones say
    what a new question is like when it shares few words with any of them."""

    ALPHA = 0.5
    CLIP = 3.0

    def __init__(self, inside: Iterable[str], outside: Iterable[str], terms: Callable[[str], list[str]] = stems,
                 asked: Iterable[str] = ()) -> None:
        asked, outside = list(asked), list(outside)
        self.inside = Counter(t for q in [*inside, *asked] for t in set(terms(q)))
        self.outside = Counter(t for q in outside for t in set(terms(q)))
        self.asked_vectors = semantic.embed(asked)
        self.outside_vectors = semantic.embed(outside)
        vocab = set(self.inside) | set(self.outside)
        n_in, n_out = sum(self.inside.values()), sum(self.outside.values())
        v = max(1, len(vocab))
        self.llr = {
            t: max(-self.CLIP, min(self.CLIP, math.log((self.inside[t] + self.ALPHA) / (n_in + self.ALPHA * v))
                                   - math.log((self.outside[t] + self.ALPHA) / (n_out + self.ALPHA * v))))
            for t in vocab
        }

    def score(self, terms: Iterable[tuple[str, float]]) -> float:
        """Sum of the known terms' log-odds (each term once, weak ones scaled down)."""
        seen: set[str] = set()
        total = 0.0
        for term, weight in terms:
            if term in self.llr and term not in seen:
                seen.add(term)
                total += weight * self.llr[term]
        return total

    @staticmethod
    def nearest(vectors: np.ndarray, vector: np.ndarray, k: int = NEAREST) -> float:
        """Mean similarity of the k closest of these questions (0 with none)."""
        if not len(vectors):
            return 0.0
        sims = vectors @ vector
        k = min(k, len(sims))
        return float(np.partition(sims, len(sims) - k)[-k:].mean())


def train_classifier(vectors: np.ndarray, labels: np.ndarray, classes: int,
                     steps: int = 100, rate: float = 2.0, momentum: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression by gradient descent with momentum: 100 steps reach the optimum's loss
    (checked against 800 plain ones) in about a tenth of a second for a thousand examples."""
    x = (vectors * CLASSIFIER_SCALE).astype(np.float32)
    onehot = np.eye(classes, dtype=np.float32)[labels]
    w = np.zeros((x.shape[1], classes), dtype=np.float32)
    b = np.zeros(classes, dtype=np.float32)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    for _ in range(steps):
        gradient = _softmax(x @ w + b) - onehot
        vw = momentum * vw - rate * (x.T @ gradient / len(x) + CLASSIFIER_L2 * w)
        vb = momentum * vb - rate * gradient.mean(axis=0)
        w += vw
        b += vb
    return w, b


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


@dataclass
class Meaning:
    """A question's sentence vector against the entries: each one's closest example, and the
    classifier's probability that the question is one of its examples."""

    vector: np.ndarray
    near: np.ndarray
    probability: np.ndarray
    body_near: np.ndarray


class AdviceIndex:
    def __init__(self, entries: list[Entry], out_of_domain: Iterable[str] = (), in_domain: Iterable[str] = ()) -> None:
        self.entries = entries
        self.n = max(1, len(entries))
        self.field_terms: list[dict[str, Counter[str]]] = []
        lengths: dict[str, list[int]] = defaultdict(list)
        df: Counter[str] = Counter()
        # Example questions are written in student voice, typos included ("internsip"). A
        # misspelling seen once must not become a rare, heavily weighted word of one entry:
        # such words are spelled as the entries spell them before anything is indexed.
        self._spelling = self._example_spelling(entries)
        for e in entries:
            fields = {
                "keywords": Counter(t for k in e.keywords for t in stems(k, RANK_QUESTION_WORDS)),
                "title": Counter(stems(e.title, RANK_QUESTION_WORDS)),
                "body": Counter(stems(e.body, RANK_QUESTION_WORDS)),
                "examples": Counter(t for q in e.examples for t in self._example_terms(q, RANK_QUESTION_WORDS)),
            }
            self.field_terms.append(fields)
            df.update(set().union(*fields.values()))
            for name, counter in fields.items():
                lengths[name].append(sum(counter.values()))
        self.avg_len = {name: max(1.0, sum(v) / len(v)) for name, v in lengths.items()} if entries else {}
        self.idf = {t: math.log(1 + (self.n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self.max_idf = math.log(1 + (self.n + 0.5) / 1.5)
        # term -> {doc: BM25F score}: the index is fixed once built, so every score is computed
        # here once and a search touches only the documents that contain its terms.
        self.postings: dict[str, dict[int, float]] = defaultdict(dict)
        for doc, fields in enumerate(self.field_terms):
            for term in set().union(*fields.values()):
                self.postings[term][doc] = self._bm25f(doc, term)
        # Example questions one by one: (doc, its terms) for the best-single-example match.
        self.examples: list[tuple[int, frozenset[str]]] = []
        self.example_postings: dict[str, list[int]] = defaultdict(list)
        for doc, e in enumerate(entries):
            for q in (e.title, *e.examples):
                terms = frozenset(self._example_terms(q, RANK_QUESTION_WORDS))
                if terms:
                    for t in terms:
                        self.example_postings[t].append(len(self.examples))
                    self.examples.append((doc, terms))
        # The same questions, and the bodies' sentences, as sentence vectors entry by entry.
        self.example_vectors, labels, self.example_starts = _by_entry([(e.title, *e.examples) for e in entries])
        self.classifier = train_classifier(self.example_vectors, labels, len(entries)) if entries else None
        self.sentence_vectors, _, self.sentence_starts = _by_entry([_sentences(e) for e in entries])
        n_ex = max(1, len(self.examples))
        ex_df = Counter(t for _, terms in self.examples for t in terms)
        self.example_idf = {t: math.log(1 + (n_ex - d + 0.5) / (d + 0.5)) for t, d in ex_df.items()}
        self.example_sizes = [sum(self.example_idf.get(t, 0.0) for t in terms if "_" not in t) for _, terms in self.examples]
        self.domain = self.domain_model(in_domain, out_of_domain)
        vocab_counts = Counter(df)
        vocab_counts.update({t: 1 for t in self.domain.outside if t not in vocab_counts})
        self.vocabulary = Vocabulary(vocab_counts)

    def domain_model(self, in_domain: Iterable[str], out_of_domain: Iterable[str]) -> DomainModel:
        """In domain: the entries' titles, examples and sentences, and questions students asked;
        out of domain: the questions we refuse. (``bench/advice_fit.py`` rebuilds it without one
        set's questions to fit the weights on questions the model has not learnt.)"""
        inside = [q for e in self.entries for q in (e.title, *e.examples)]
        if DOMAIN_FROM_BODIES:
            inside += [line for e in self.entries for line in _SENTENCE_BREAK.split(e.body) if line.strip()]
        return DomainModel(inside, out_of_domain, self._example_terms, asked=in_domain)

    @staticmethod
    def _example_spelling(entries: list[Entry]) -> dict[str, str]:
        """Stems found in one example question only, that are a typo of a word the entries use."""
        known: Counter[str] = Counter()
        for e in entries:
            known.update(set(stems(" ".join((e.title, e.body, *e.keywords)), RANK_QUESTION_WORDS)))
        in_examples = Counter(t for e in entries for q in e.examples for t in set(stems(q, RANK_QUESTION_WORDS)))
        known.update({t: c for t, c in in_examples.items() if c > 2})
        vocabulary = Vocabulary(known)
        out: dict[str, str] = {}
        for t in in_examples:
            if t not in known and "_" not in t:
                fixed = vocabulary.correct(t)
                if fixed:
                    out[t] = fixed
        return out

    def _example_terms(self, text: str, question_words: bool = False) -> list[str]:
        unigrams = [self._spelling.get(t, t) for t in stems(text, question_words) if "_" not in t]
        return unigrams + [f"{a}_{b}" for a, b in pairwise(unigrams)]

    # -- query analysis ------------------------------------------------------------------
    def analyze(self, question: str) -> list[_Concept]:
        concepts: list[_Concept] = []
        seen: set[str] = set()
        for word in content_words(question, RANK_QUESTION_WORDS):
            s = self.vocabulary.term(word)
            if s in seen:
                continue
            seen.add(s)
            alts: dict[str, float] = {}
            if s in self.idf:
                alts[s] = 1.0
            for syn in SYNONYMS.get(word, ()):
                t = stem(syn)
                if t in self.idf and t not in alts:
                    alts[t] = SYNONYM_WEIGHT
            weight = max((self.idf[t] * w for t, w in alts.items()), default=0.0)
            if not alts and self.domain.llr.get(s, 0.0) < 0:
                # Not in the knowledge base, but seen in questions we refuse ("accounting",
                # "heapsort"): it is part of what is asked, so the entries cover less of it.
                weight = FOREIGN_WEIGHT * self.max_idf
            if word in WEAK_WORDS:
                weight *= WEAK_WEIGHT
                alts = {t: w * WEAK_WEIGHT for t, w in alts.items()}
            concepts.append(_Concept(s, alts, weight))
        return concepts

    # -- ranking ---------------------------------------------------------------------------
    def _bm25f(self, doc: int, term: str) -> float:
        fields = self.field_terms[doc]
        tf = 0.0
        for name, weight in FIELD_WEIGHTS.items():
            count = fields[name].get(term, 0)
            if count:
                norm = 1 - B + B * sum(fields[name].values()) / self.avg_len[name]
                tf += weight * count / norm
        return self.idf[term] * tf / (K1 + tf) if tf else 0.0

    def meaning(self, question: str) -> Meaning:
        vector = semantic.embed([question])[0]
        if self.classifier is None:  # no entries
            empty = np.zeros(0, dtype=np.float32)
            return Meaning(vector, empty, empty, empty)
        w, b = self.classifier
        return Meaning(vector, _closest(self.example_vectors, self.example_starts, vector),
                       _softmax(CLASSIFIER_SCALE * vector @ w + b),
                       _closest(self.sentence_vectors, self.sentence_starts, vector))

    def rank(self, concepts: list[_Concept], workspace_id: str | None = None,
             meaning: Meaning | None = None) -> tuple[list[Match], float]:
        """Every entry that matches anything, best first, and how well the closest example matched."""
        total_weight = sum(c.weight for c in concepts)
        if not total_weight:
            return [], 0.0
        score: dict[int, float] = defaultdict(float)
        covered: dict[int, float] = defaultdict(float)
        for c in concepts:
            best: dict[int, float] = {}
            for t, w in c.alternatives.items():
                for doc, value in self.postings.get(t, {}).items():
                    if w * value > best.get(doc, 0.0):
                        best[doc] = w * value
            for doc, value in best.items():
                score[doc] += value
                covered[doc] += c.weight
        for a, b in zip(concepts, concepts[1:]):
            for ta, wa in a.alternatives.items():
                for tb, wb in b.alternatives.items():
                    for doc, value in self.postings.get(f"{ta}_{tb}", {}).items():
                        score[doc] += BIGRAM_WEIGHT * min(wa, wb) * value
        example_best, example_vote = self._best_examples(concepts, total_weight)
        top = max(score.values(), default=0.0) or 1.0
        scored: list[Match] = []
        for doc, entry in enumerate(self.entries):
            total = score.get(doc, 0.0)
            closeness = (SEMANTIC_WEIGHT * max(0.0, float(meaning.near[doc]))
                         + BODY_WEIGHT * max(0.0, float(meaning.body_near[doc]))
                         + CLASSIFIER_WEIGHT * float(meaning.probability[doc])) if meaning is not None else 0.0
            if (total > 0 or closeness > 0) and entry.workspace_id in (None, workspace_id):
                confidence = covered[doc] / total_weight
                words = (total / top) * confidence + EXAMPLE_WEIGHT * example_vote.get(doc, 0.0)
                scored.append(Match(entry, words + closeness, confidence, words))
        scored.sort(key=lambda m: (-m.score, m.entry.id))
        return scored, max(example_best.values(), default=0.0)

    def domain_signals(self, question: str, ranked: list[Match], best_example: float, meaning: Meaning) -> tuple[float, ...]:
        """What DOMAIN_WEIGHTS weigh: the naive-Bayes log-odds (for, against), the closest example,
        the best entry's coverage, the strongest in-domain word and the strongest foreign one
        (a "bakery" in an internship question); then, by sentence vector, the closest example
        question and how close the nearest asked questions we answer and we refuse are."""
        terms = self._domain_terms(question)
        llrs = [self.domain.llr.get(t, 0.0) * w for t, w in terms]
        nb = self.domain.score(terms)
        return (max(nb, 0.0), min(nb, 0.0), best_example, ranked[0].confidence if ranked else 0.0,
                max(llrs + [0.0]), min(llrs + [0.0]), float(meaning.near.max()) if len(meaning.near) else 0.0,
                DomainModel.nearest(self.domain.outside_vectors, meaning.vector),
                DomainModel.nearest(self.domain.asked_vectors, meaning.vector))

    @staticmethod
    def sure_signals(ranked: list[Match], best_example: float, domain: float) -> tuple[float, ...]:
        """What UNSURE_WEIGHTS weigh: the runner-up's score relative to the first, the first's
        score, the closest example, the first's coverage and the domain score."""
        top = ranked[0]
        runner_up = ranked[1].score / top.score if len(ranked) > 1 else 0.0
        return (runner_up, top.score, best_example, top.confidence, domain)

    def domain_score(self, signals: tuple[float, ...]) -> float:
        return DOMAIN_BIAS + sum(w * x for w, x in zip(DOMAIN_WEIGHTS, signals))

    def assess(self, question: str, workspace_id: str | None = None) -> Assessment:
        """Everything both decisions look at (``search`` and ``bench/advice_fit.py`` share it)."""
        concepts = self.analyze(question)
        meaning = self.meaning(question)
        ranked, best_example = self.rank(concepts, workspace_id, meaning)
        signals = self.domain_signals(question, ranked, best_example, meaning)
        domain = self.domain_score(signals) if self.domain.outside else DOMAIN_THRESHOLD
        return Assessment(concepts, ranked, best_example, signals, domain)

    def _best_examples(self, concepts: list[_Concept], total_weight: float) -> tuple[dict[int, float], dict[int, float]]:
        """Per entry, how well its closest example question matches (0..1, Dice on weights), and
        its examples' vote (the closest plus a share of the next ``NEIGHBOUR_EXAMPLES``' mean).

        Weights are IDF over the example questions themselves (about a thousand short
        documents), which tells "typical" from "interview" better than IDF over entries.
        """
        idf = self.example_idf
        weights: dict[str, float] = {}
        query_weight = sum(c.weight for c in concepts if not c.alternatives)  # words only refused questions use
        for c in concepts:
            best_here = 0.0
            for t, w in c.alternatives.items():
                value = w * idf.get(t, 0.0)
                weights[t] = max(weights.get(t, 0.0), value)
                best_here = max(best_here, value)
            query_weight += best_here
        overlap: dict[int, float] = defaultdict(float)
        for t, w in weights.items():
            for ex in self.example_postings.get(t, ()):
                overlap[ex] += w
        per_doc: dict[int, list[float]] = defaultdict(list)
        for ex, shared in overlap.items():
            doc = self.examples[ex][0]
            size = self.example_sizes[ex]
            per_doc[doc].append(2 * shared / (query_weight + size) if query_weight + size else 0.0)
        best: dict[int, float] = {}
        vote: dict[int, float] = {}
        for doc, values in per_doc.items():
            values.sort(reverse=True)
            best[doc] = values[0]
            vote[doc] = values[0] + NEIGHBOUR_WEIGHT * sum(values[1 : 1 + NEIGHBOUR_EXAMPLES]) / NEIGHBOUR_EXAMPLES
        return best, vote

    def search(self, question: str, limit: int = 3, workspace_id: str | None = None) -> Answer:
        seen = self.assess(question, workspace_id)
        concepts, ranked, best_example, domain = seen.concepts, seen.ranked, seen.best_example, seen.domain
        if not ranked or domain < DOMAIN_THRESHOLD:
            return Answer("refused", [], _topics(ranked), domain)
        top = ranked[0]
        sure = UNSURE_BIAS + sum(w * x for w, x in zip(UNSURE_WEIGHTS, self.sure_signals(ranked, best_example, domain)))
        if len(ranked) > 1 and (sure < SURE_THRESHOLD or self._tie(concepts, ranked)):
            return Answer("unsure", ranked[:limit], [], domain)
        # "See also" is judged on words too: the classifier adds mostly to the first entry, so the full
        # scores' ratio alone would hide a second entry that shares the question's words.
        results = [top] + [m for m in ranked[1:limit]
                           if m.score >= SEE_ALSO_RATIO * top.score or m.words >= SEE_ALSO_RATIO * top.words]
        return Answer("answer", results, [], domain)

    @staticmethod
    def _tie(concepts: list[_Concept], ranked: list[Match]) -> bool:
        """Two entries this close are a tie whatever else the signals say. A one-word question
        ("alumni") is judged on its words alone: one word's vector says little about which of
        two entries that both use it is meant."""
        if sum(1 for c in concepts if c.weight) > 1:
            return ranked[1].score >= TIE_RATIO * ranked[0].score
        by_words = sorted((m.words for m in ranked), reverse=True)
        return by_words[1] >= TIE_RATIO_ONE_WORD * by_words[0]

    def _domain_terms(self, question: str) -> list[tuple[str, float]]:
        """The question's domain-model features (typos corrected), company names weighted down."""
        out: list[tuple[str, float]] = []
        previous: str | None = None
        for word in content_words(question):
            s = self.vocabulary.term(word)
            weight = WEAK_WEIGHT if word in WEAK_WORDS else 1.0
            out.append((s, weight))
            if previous:
                out.append((f"{previous}_{s}", weight))
            previous = s
        return out


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n")


def _by_entry(texts: list[Iterable[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every entry's texts as sentence vectors, one block per entry in order (each entry needs at
    least one text): the vectors, the entry of each row, and where each entry's block starts."""
    rows = [(doc, text) for doc, group in enumerate(texts) for text in group]
    labels = np.array([doc for doc, _ in rows], dtype=np.int64)
    return semantic.embed([text for _, text in rows]), labels, np.searchsorted(labels, np.arange(len(texts)))


def _closest(vectors: np.ndarray, starts: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Per entry, the similarity of its row closest to ``vector``."""
    return np.maximum.reduceat(vectors @ vector, starts)


def _sentences(entry: Entry) -> list[str]:
    """The body's sentences and list items of four words or more, Markdown marks removed (the
    title when there are none, so every entry has at least one)."""
    out = []
    for line in _SENTENCE_BREAK.split(entry.body):
        line = re.sub(r"[*`_]", "", line).strip(" -•")
        if len(line.split()) >= 4:
            out.append(line)
    return out or [entry.title]


def _topics(ranked: list[Match], n: int = 3) -> list[str]:
    out: list[str] = []
    for m in ranked:
        if m.entry.topic not in out:
            out.append(m.entry.topic)
        if len(out) == n:
            break
    return out
