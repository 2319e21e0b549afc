"""Ranking advice entries for a free-text question, and knowing when not to answer.

BM25F over three fields (keywords weigh most, then title, then body) on Snowball stems,
plus stem bigrams so "career fair" beats "career" + "fair" scattered in a body.
Students type fast: a small synonym table maps their shorthand (cv, uni, tf, dl, faang) to
the words entries use, and one-edit typos are corrected against the index vocabulary.

Refusing matters as much as ranking. BM25 scores are not comparable across questions, so
the decision uses *coverage*: the IDF-weighted share of the question's content words that
the top entry actually contains. A question about "NSF GRFP fellowships" matches entries on
"PhD" alone, so most of its weight is uncovered and we say we have no advice on that.

The index is built in memory from the rows in SQLite (a few dozen entries): a search is a
few dictionary look-ups, well under a millisecond.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from bot.storage.advice_repo import Entry

FIELD_WEIGHTS = {"keywords": 3.0, "title": 2.0, "body": 1.0}
K1 = 1.2
B = 0.6
SYNONYM_WEIGHT = 0.7
TYPO_WEIGHT = 0.8
MIN_CONFIDENCE = 0.45  # coverage needed to answer at all (tuned on our own held-out questions)
MIN_CONFIDENCE_CAREER = 0.38  # ...when the question is plainly about careers (see CAREER_WORDS)
SEE_ALSO_CONFIDENCE = 0.3
COVERAGE_POWER = 1.0

_stemmer = snowballstemmer.stemmer("english")
_WORD = re.compile(r"[a-z0-9]+")

# Phrases rewritten before tokenizing, so punctuation-bearing terms survive.
_REWRITES = [
    (re.compile(r"c\+\+"), " cplusplus "),
    (re.compile(r"\bc#"), " csharp "),
    (re.compile(r"\bph\.?\s?d\.?s?\b"), " phd "),
    (re.compile(r"\bm\.?sc\b|\bmasters?\b|\bms\b"), " master "),
    (re.compile(r"\bb\.?sc\b|\bbachelors?\b"), " undergrad "),
    (re.compile(r"\bstart-?ups?\b"), " startup "),
    (re.compile(r"\bstand-?ups?\b"), " standup "),
    (re.compile(r"\be-?mail"), " email"),
    (re.compile(r"\bco-?op\b"), " internship "),
    (re.compile(r"\bopen-source\b"), " open source "),
    (re.compile(r"\bpart-time\b"), " part time "),
    (re.compile(r"\bfull-time\b"), " full time "),
    (re.compile(r"['\u2019]"), ""),
]

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any anyone anything are arent as at
    be because been before being below between both but by can cant could couldnt did didnt do
    does doesnt doing dont down during each even ever every few for from further get gets getting
    got had hadnt has hasnt have havent having he her here hers herself him himself his how i id
    if ill im in into is isnt it its itself ive just kinda know let like lot lots make makes me
    might more most much must my myself need needs no nor not now of off on once one only or
    other ought our ours ourselves out over own really same say shall she should shouldnt so
    some someone something still such than that thats the their theirs them themselves then
    there theres these they theyre thing things this those through to too under until up upon
    us use used using very want wanna was wasnt way we well were werent what whats when where
    which while who whom whose why will with wont would wouldnt yet you youd youre your yours
    yourself yourselves lol tbh pls plz please ppl u ur r ya yeah ok okay hey hi hello thanks
    thank guys anybody basically literally actually honestly etc eg ie vs via sure maybe gonna
    gotta sorta stuff bit go going goes went think thought good best better bad
    everyone everybody anyone somebody nobody whatever whenever wherever
    shld shd wld cld abt bc cuz coz rn idk imo imho btw fyi thx ty omg smh ngl af im
    see saw seen seem seems couple bunch totally super pretty quite usually typically often
    always never sometimes anyway already probably definitely someone sb sth
    useful helpful worth worthwhile important matter matters tip tips advice right
    instead rather send sending
    """.split()
)

# Student shorthand -> words the entries use. Kept general: it describes how people talk
# about ML careers, not any particular question.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "cv": ("resume",),
    "resume": ("cv",),
    "uni": ("university",),
    "college": ("university",),
    "school": ("university",),
    "prof": ("professor", "advisor"),
    "professor": ("advisor", "academic"),
    "supervisor": ("advisor", "mentor"),
    "tf": ("tensorflow",),
    "dl": ("deep", "learning"),
    "ml": ("machine", "learning"),
    "nn": ("neural", "network"),
    "cnn": ("neural", "network"),
    "llm": ("language", "model"),
    "nlp": ("language",),
    "cs": ("computer", "science"),
    "faang": ("google", "amazon", "apple", "big", "company"),
    "maang": ("google", "amazon", "apple", "big", "company"),
    "bigtech": ("big", "company"),
    "gpu": ("hardware", "colab"),
    "gpus": ("hardware", "colab"),
    "compute": ("gpu", "hardware"),
    "laptop": ("hardware", "gpu"),
    "colab": ("gpu",),
    "cloud": ("aws",),
    "leetcode": ("coding", "interview"),
    "dsa": ("data", "structure", "algorithm"),
    "kaggle": ("competition",),
    "hackathon": ("competition",),
    "contest": ("competition",),
    "github": ("portfolio", "open"),
    "repo": ("github",),
    "pr": ("pull", "request", "open", "source"),
    "prs": ("pull", "request", "open", "source"),
    "oss": ("open", "source"),
    "linkedin": ("network",),
    "dm": ("message", "reach"),
    "cold": ("reach", "email"),
    "recruiter": ("recruit",),
    "referral": ("refer", "recommend"),
    "refer": ("referral", "recommend"),
    "recommendation": ("referral", "recommend"),
    "internship": ("intern",),
    "internships": ("intern",),
    "intern": ("internship",),
    "job": ("posting", "role"),
    "jobs": ("posting", "role"),
    "opening": ("posting",),
    "openings": ("posting",),
    "listing": ("posting",),
    "listings": ("posting",),
    "board": ("posting", "search"),
    "remote": ("virtual",),
    "wfh": ("remote",),
    "virtual": ("remote",),
    "international": ("abroad", "country", "visa"),
    "abroad": ("international", "country"),
    "visa": ("international", "country"),
    "usa": ("us", "america"),
    "america": ("us",),
    "math": ("mathematics",),
    "maths": ("math", "mathematics"),
    "stats": ("statistics",),
    "linalg": ("linear", "algebra"),
    "mooc": ("course", "online"),
    "moocs": ("course", "online"),
    "coursera": ("course", "mooc"),
    "udemy": ("course", "mooc"),
    "certificate": ("certification",),
    "paper": ("publication",),
    "papers": ("publication", "read"),
    "publish": ("publication",),
    "arxiv": ("paper", "read"),
    "conference": ("venue",),
    "neurips": ("venue", "conference"),
    "icml": ("venue", "conference"),
    "iclr": ("venue", "conference"),
    "undergrad": ("undergraduate", "bachelor"),
    "freshman": ("undergraduate", "first", "year"),
    "sophomore": ("undergraduate",),
    "grad": ("graduate",),
    "master": ("graduate",),
    "doctorate": ("phd",),
    "doctoral": ("phd",),
    "startup": ("small", "company"),
    "small": ("startup",),
    "salary": ("paid",),
    "pay": ("paid",),
    "paid": ("salary",),
    "mentor": ("mentorship",),
    "boss": ("manager", "mentor"),
    "manager": ("mentor",),
    "behavioral": ("interview",),
    "onsite": ("interview",),
    "screen": ("interview",),
    "oa": ("coding", "test"),
    "portfolio": ("project",),
    "project": ("portfolio",),
    "projects": ("portfolio",),
    "website": ("presence", "blog"),
    "blog": ("presence", "website"),
    "docker": ("software", "engineering", "tool"),
    "kubernetes": ("software", "engineering", "tool"),
    "sql": ("database",),
    "git": ("version", "control"),
    "mandatory": ("required", "requirement"),
    "necessary": ("required", "requirement"),
    "essential": ("required", "requirement"),
    "compulsory": ("required", "requirement"),
    "prerequisite": ("required", "requirement"),
    "round": ("interview",),
    "rounds": ("interview",),
    "rejected": ("rejection",),
    "rejection": ("persist",),
    "ghosted": ("rejection",),
    "deadline": ("timing", "apply"),
    "deadlines": ("timing", "apply"),
    "early": ("timing",),
    "late": ("timing",),
    "summer": ("timing",),
    "passion": ("enthusiasm",),
    "passionate": ("enthusiasm",),
    "excited": ("enthusiasm",),
    "motivated": ("enthusiasm",),
    "return": ("offer", "full", "time"),
    "fulltime": ("full", "time", "offer"),
}


# Words that make a question about careers rather than ML technique: "what lr for BERT"
# has none of them, "do I need a PhD for an internship" has one. Lowers the bar a little.
CAREER_WORDS = frozenset(
    """intern interns internship internships job jobs career careers apply applying application
    applications interview interviews interviewer interviewers resume cv hire hired hiring recruiter
    recruiters recruiting employer employers offer offers posting postings referral referrals
    networking portfolio mentor""".split()
)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """Memoised: entries repeat their words, and Snowball dominates index build time."""
    return _stemmer.stemWord(word)


def normalize(text: str) -> str:
    text = text.lower()
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return text


def words(text: str) -> list[str]:
    return _WORD.findall(normalize(text))


def content_words(text: str) -> list[str]:
    """Words that carry meaning: no stopwords, single letters or bare numbers ("60 applications")."""
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 1 and not w.isdigit()]


def stems(text: str) -> list[str]:
    """Terms for indexing: stems of content words plus adjacent-stem bigrams."""
    unigrams = [_stem(w) for w in content_words(text)]
    return unigrams + [f"{a}_{b}" for a, b in zip(unigrams, unigrams[1:])]


def _deletes(term: str) -> set[str]:
    return {term[:i] + term[i + 1 :] for i in range(len(term))}


def _within_one_edit(a: str, b: str) -> bool:
    """True for one insertion, deletion, substitution or adjacent transposition."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


@dataclass
class Match:
    entry: Entry
    score: float
    confidence: float


@dataclass
class _Concept:
    """One content word of the question with the index terms that may stand for it."""

    word: str
    alternatives: dict[str, float]  # index term -> weight of its score
    weight: float  # its share of the question, by rarity in the knowledge base
    corrected: bool = False  # matched only through a typo correction: partial coverage credit


class AdviceIndex:
    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        self.n = max(1, len(entries))
        self.field_terms: list[dict[str, Counter[str]]] = []
        self.doc_terms: list[set[str]] = []
        lengths: dict[str, list[int]] = defaultdict(list)
        df: Counter[str] = Counter()
        for e in entries:
            fields = {
                "keywords": Counter(t for k in e.keywords for t in stems(k)),
                "title": Counter(stems(e.title)),
                "body": Counter(stems(e.body)),
            }
            self.field_terms.append(fields)
            terms = set().union(*fields.values())
            self.doc_terms.append(terms)
            df.update(terms)
            for name, counter in fields.items():
                lengths[name].append(sum(counter.values()))
        self.avg_len = {name: max(1.0, sum(v) / len(v)) for name, v in lengths.items()} if entries else {}
        self.idf = {t: math.log(1 + (self.n - d + 0.5) / (d + 0.5)) for t, d in df.items()}
        self.unknown_idf = math.log(1 + (self.n + 0.5) / 0.5)
        self._deletion_index: dict[str, set[str]] = defaultdict(set)
        for term in self.idf:
            if "_" not in term and len(term) >= 4:
                self._deletion_index[term].add(term)
                for d in _deletes(term):
                    self._deletion_index[d].add(term)
        self._typo_cache: dict[str, str | None] = {}
        # term -> {doc: BM25F score}: the index is fixed once built, so every score is computed
        # here once and a search touches only the documents that contain its terms.
        self.postings: dict[str, dict[int, float]] = defaultdict(dict)
        for doc, terms in enumerate(self.doc_terms):
            for term in terms:
                self.postings[term][doc] = self._bm25f(doc, term)

    # -- query analysis ------------------------------------------------------------------
    def _correct(self, stem: str) -> str | None:
        """The most common index term within one edit of an unknown stem, if any."""
        if stem in self._typo_cache:
            return self._typo_cache[stem]
        best = None
        if len(stem) >= 5:
            candidates = set(self._deletion_index.get(stem, ()))
            for d in _deletes(stem):
                candidates |= self._deletion_index.get(d, set())
            # Shared deletions also pair words two edits apart ("tabl"/"talk"); keep true typos.
            candidates = {c for c in candidates if _within_one_edit(stem, c)}
            if candidates:
                best = min(candidates, key=lambda t: (self.idf[t], t))
        self._typo_cache[stem] = best
        return best

    def analyze(self, question: str) -> list[_Concept]:
        concepts: list[_Concept] = []
        seen: set[str] = set()
        for word in content_words(question):
            stem = _stem(word)
            if stem in seen:
                continue
            seen.add(stem)
            alts: dict[str, float] = {}
            fixed = None
            if stem in self.idf:
                alts[stem] = 1.0
            else:
                fixed = self._correct(stem)
                if fixed:
                    alts[fixed] = TYPO_WEIGHT
            for syn in SYNONYMS.get(word, ()):
                s = _stem(syn)
                if s in self.idf and s not in alts:
                    alts[s] = SYNONYM_WEIGHT
            if stem in self.idf:
                weight = self.idf[stem]
            elif alts:
                weight = max(self.idf[t] for t in alts)
            else:
                weight = self.unknown_idf
            concepts.append(_Concept(word, alts, weight, corrected=fixed is not None))
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

    def search(self, question: str, limit: int = 3, workspace_id: str | None = None) -> list[Match]:
        """Best entries first; an empty list means the question is outside what we know."""
        concepts = self.analyze(question)
        if not concepts or not self.entries:
            return []
        bigrams: list[str] = []
        for a, b in zip(concepts, concepts[1:]):
            for ta in a.alternatives:
                for tb in b.alternatives:
                    if f"{ta}_{tb}" in self.idf:
                        bigrams.append(f"{ta}_{tb}")
        total_weight = sum(c.weight for c in concepts)
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
                covered[doc] += c.weight * (TYPO_WEIGHT if c.corrected else 1.0)
        for bg in bigrams:
            for doc, value in self.postings.get(bg, {}).items():
                score[doc] += 0.5 * value
        scored: list[Match] = []
        for doc, total in score.items():
            entry = self.entries[doc]
            if total > 0 and entry.workspace_id in (None, workspace_id):
                confidence = covered[doc] / total_weight
                # Rank by relevance weighted by coverage, so two generic words ("ml
                # internship") matched many times cannot outrank the one rare word asked about.
                scored.append(Match(entry, total * confidence**COVERAGE_POWER, confidence))
        scored.sort(key=lambda m: (-m.score, m.entry.id))
        about_careers = any(c.word in CAREER_WORDS for c in concepts)
        bar = MIN_CONFIDENCE_CAREER if about_careers else MIN_CONFIDENCE
        if not scored or scored[0].confidence < bar:
            return []
        top = scored[0]
        results = [top]
        for m in scored[1:]:
            if len(results) >= limit:
                break
            if m.confidence >= SEE_ALSO_CONFIDENCE and m.score >= 0.35 * top.score:
                results.append(m)
        return results
