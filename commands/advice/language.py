"""How students write, turned into the words the knowledge base uses.

Questions arrive as "wat math shud i know 4 ml internships fr 😭" or "cv tips pls". Before
anything is ranked, text-speak is expanded ("wat" -> "what", "shud" -> "should"), fillers that
carry no meaning ("fr", "ngl", "bruh", "lol") and emoji are dropped, elongated words are
shortened ("pleeease"), and a few multi-word forms are joined ("lin alg" -> "linear algebra").
Typos are corrected later, against the vocabulary the index knows (``search.Vocabulary``).

Everything here is about how people write, never about particular questions.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

_stemmer = snowballstemmer.stemmer("english")
_WORD = re.compile(r"[a-z0-9]+")
_ELONGATED = re.compile(r"([a-z])\1{2,}")

# Multi-word and punctuation-bearing forms, rewritten before tokenizing.
_REWRITES = [
    (re.compile(r"c\+\+"), " cplusplus "),
    (re.compile(r"\bc#"), " csharp "),
    (re.compile(r"\bw/o\b"), " without "),
    (re.compile(r"\bw/"), " with "),
    (re.compile(r"\bph\.?\s?d\.?s?\b"), " phd "),
    (re.compile(r"\bm\.?sc\b|\bmasters?\b|\bms\b"), " master "),
    (re.compile(r"\bb\.?sc\b|\bbachelors?\b|\bb\.?tech\b|\bbtech\b"), " undergrad "),
    (re.compile(r"\bstart-?ups?\b"), " startup "),
    (re.compile(r"\bstand-?ups?\b"), " standup "),
    (re.compile(r"\be-?mail"), " email"),
    (re.compile(r"\bco-?ops?\b"), " internship "),
    (re.compile(r"\bopen-source\b"), " open source "),
    (re.compile(r"\bpart-time\b"), " part time "),
    (re.compile(r"\bfull-time\b"), " full time "),
    (re.compile(r"\blin(?:ear)?\.?\s?alg(?:ebra)?\b|\blinalg\b"), " linear algebra "),
    (re.compile(r"\bcalc\b"), " calculus "),
    (re.compile(r"\bprob(?:ability)?\s*(?:&|and|n)\s*stats?\b"), " probability statistics "),
    (re.compile(r"\bdata\s?struct(?:ure)?s?\b"), " data structures "),
    (re.compile(r"\bleet\s?code\b"), " leetcode "),
    (re.compile(r"\bgit\s?hub\b"), " github "),
    (re.compile(r"\blinked\s?in\b"), " linkedin "),
    (re.compile(r"\bno[- ]name\b"), " unknown "),
    (re.compile(r"\bfigur(?:e|ing|ed) out\b"), " find out "),
    (re.compile(r"\b(?:find|look(?:ing)? for|search(?:ing)? for|finding)\s+(?:(?:a|an|any|some)\s+)?(?:(?:ml|ai|machine learning|deep learning|dl|data science|research|remote|summer)\s+)?internships?\b"), " find internship postings "),
    (re.compile(r"\b(?:get|land|secure|obtain|snag)(?:ting)?\s+(?:(?:a|an|my|the|your|one|any)\s+)?(?:first\s+)?(?:(?:ml|ai|machine learning|deep learning|dl|data science|research)\s+)?internships?\b"), " land internship "),
    (re.compile(r"\b(?:the\s+)?u\.s\.(?:a\.)?|\bthe\s+us\b|\bus[- ]based\b|\b(?:in|to|outside(?: of)?)\s+us\b"), " usa "),
    (re.compile(r"\bbig[- ]?tech\b"), " big company "),
    (re.compile(r"\bfirst[- ]?years?\b|\b1st[- ]?(?:yr|year)s?\b|\bfreshm[ae]n\b"), " freshman "),
    (re.compile(r"\b(?:2nd|second)[- ]?(?:yr|year)s?\b|\bsophomores?\b"), " sophomore "),
    (re.compile(r"\b(?:3rd|third|4th|fourth|final)[- ]?(?:yr|year)s?\b"), " senior undergrad "),
    (re.compile(r"['\u2019`]"), ""),
]

# Text-speak and abbreviations, one word for one or more words.
SHORTHAND: dict[str, str] = {
    "u": "you", "ur": "your", "urs": "yours", "r": "are", "y": "why", "n": "and", "b4": "before",
    "pls": "please", "plz": "please", "plss": "please", "thx": "thanks", "ty": "thanks",
    "wat": "what", "wut": "what", "wht": "what", "wot": "what",
    "shud": "should", "shld": "should", "shd": "should", "cud": "could", "cld": "could",
    "wud": "would", "wld": "would", "wanna": "want", "gonna": "going", "gotta": "must",
    "dunno": "know", "lemme": "let", "gimme": "give",
    "yr": "year", "yrs": "years", "mo": "month", "mos": "months", "wk": "week", "wks": "weeks",
    "every1": "everyone", "any1": "anyone", "some1": "someone", "no1": "nobody",
    "2": "to", "4": "for", "thru": "through", "tho": "though", "altho": "although",
    "abt": "about", "bc": "because", "cuz": "because", "coz": "because", "cos": "because", "bcz": "because",
    "becuz": "because", "ppl": "people", "rly": "really", "rlly": "really", "v": "very",
    "smth": "something", "sth": "something", "sb": "somebody", "ok": "okay", "k": "okay",
    "w": "with", "wo": "without", "diff": "different", "info": "information", "pic": "picture",
    "swe": "software engineer", "sde": "software engineer", "mle": "machine learning engineer",
    "ds": "data science", "cs": "computer science", "ai": "ai", "hw": "homework",
    "uni": "university", "univ": "university", "ug": "undergrad", "undergrads": "undergrad",
    "prof": "professor", "profs": "professors", "rec": "recommendation", "recs": "recommendations",
    "lor": "recommendation letter", "ra": "research assistant", "ta": "teaching assistant",
    "oa": "online assessment", "oas": "online assessment", "gpa": "grades",
    "exp": "experience", "xp": "experience", "yoe": "years experience",
    "interns": "intern", "internshp": "internship", "internhsip": "internship",
    "dm": "message", "dms": "message", "msg": "message", "pm": "message",
    "app": "application", "apps": "applications", "appl": "application", "mock": "practice", "gpus": "gpu", "tpus": "tpu", "cpus": "cpu", "llms": "llm", "cvs": "cv", "apis": "api",
    "cnns": "cnn", "rnns": "rnn", "nns": "nn", "moocs": "mooc", "prs": "pr", "faqs": "faq", "phds": "phd",
}

# Words that carry no meaning in a question: chat fillers, hedges and reactions.
FILLERS = frozenset(
    """fr frfr bruh bro bros bruv dude fam ngl lol lmao lmfao rofl tbh tbf rn idk idc imo imho btw fyi omg
    smh af istg fml deadass lowkey highkey lowk highk bestie yall ya yeah yep yup nah nope pls please
    hey hi hello thanks thank guys gang chat ong icl iykyk jk ikr welp ugh ughh hmm hmmm um umm uh
    srsly seriously literally basically actually honestly genuinely kinda sorta pretty really
    """.split()
)

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any anyone anything are arent as at
    be because been before being below between both but by can cant could couldnt did didnt do
    does doesnt doing dont down during each even ever every few for from further get gets getting
    got had hadnt has hasnt have havent having he her here hers herself him himself his how i id
    if ill im in into is isnt it its itself ive just know let like lot lots make makes me
    might more most much my myself no nor not now of off on once one only or
    other ought our ours ourselves out over own same say shall she should shouldnt so
    some someone something such than that thats the their theirs them themselves then
    there theres these they theyre thing things this those through to too under until up upon
    us use used using very want was wasnt way we well were werent what whats when where
    which while who whom whose why will with wont would wouldnt yet you youd youre your yours
    yourself yourselves okay ok sure maybe going
    stuff bit go goes went think thought good best better bad
    everyone everybody somebody nobody whatever whenever wherever
    see saw seen seem seems couple bunch totally super quite usually typically often
    always sometimes anyway already probably definitely
    tip tips advice right instead rather though although
    legit worth worthwhile useful helpful valuable important matter matters
    """.split()
) | FILLERS

# Names that say *where* a student wants to go, not *what* they ask about: "can a no-name
# uni student get into google brain" is about universities, not Google. Weak evidence.
WEAK_WORDS = frozenset(
    """google brain deepmind microsoft apple amazon meta facebook nvidia openai anthropic netflix
    tesla ibm intel samsung uber airbnb twitter bytedance tiktok baidu alibaba tencent huawei adobe
    spotify stripe jane street citadel""".split()
)


# Words whose stem would merge two intents: questions *for* the interviewer are not questions
# about the interview.
STEM_EXCEPTIONS = {"interviewer": "interviewer", "interviewers": "interviewer"}


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Memoised: entries repeat their words, and Snowball dominates index build time."""
    return STEM_EXCEPTIONS.get(word) or _stemmer.stemWord(word)


def _strip_symbols(text: str) -> str:
    """Emoji, pictographs and other symbols become spaces; letters, digits and punctuation stay."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("So", "Sk", "Cs", "Co", "Cn") or ch in "\u200d\ufe0f\ufe0e":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def normalize(text: str) -> str:
    """Lower case, symbols out, accents folded, multi-word forms joined, elongations shortened."""
    if text.isascii():  # most text: no emoji or accents to deal with
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKD", _strip_symbols(unicodedata.normalize("NFKC", text)).lower())
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _ELONGATED.sub(r"\1", text)
    for pattern, replacement in _REWRITES:
        text = pattern.sub(replacement, text)
    return text


def words(text: str) -> list[str]:
    """Every word, with text-speak expanded."""
    return list(_words(text))


@lru_cache(maxsize=8192)
def _words(text: str) -> tuple[str, ...]:
    """Memoised: the index reads each example question three times (fields, examples, domain)."""
    out: list[str] = []
    for w in _WORD.findall(normalize(text)):
        out.extend(SHORTHAND.get(w, w).split())
    return tuple(out)


# Question words tell entries apart ("who will interview me", "when to apply", "where to look")
# but say nothing about whether a question is in our domain: ranking keeps them, the domain
# model does not.
QUESTION_WORDS = frozenset("who when where why which how".split())


def content_words(text: str, question_words: bool = False) -> list[str]:
    """Words that carry meaning: no stopwords, fillers, single letters or bare numbers."""
    return [
        w for w in words(text)
        if (w not in STOPWORDS or (question_words and w in QUESTION_WORDS)) and len(w) > 1 and not w.isdigit()
    ]


def stems(text: str, question_words: bool = False) -> list[str]:
    """Terms for indexing: stems of content words plus adjacent-stem bigrams."""
    unigrams = [stem(w) for w in content_words(text, question_words)]
    return unigrams + [f"{a}_{b}" for a, b in zip(unigrams, unigrams[1:])]


def question_key(text: str) -> str:
    """The question as its sorted content stems, so "is kaggle worth it?" and "Kaggle worth it" group."""
    return " ".join(sorted(set(stem(w) for w in content_words(text))))[:300]


def damerau(a: str, b: str, limit: int = 2) -> int:
    """Optimal-string-alignment distance, giving up (limit + 1) once it exceeds ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]
