"""Sentence vectors beside the word search: they are WordLlama's own, and they carry meaning
that shares no word with the question."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from bot.storage.advice_repo import Entry
from commands.advice import semantic
from commands.advice.search import AdviceIndex

QUESTIONS = ["is kaggle legit", "wat math do i need 4 ml 🧮", "   ",
             "A much longer question: should I finish a PhD before I apply to research internships at big labs?"]


def test_vectors_are_the_ones_wordllama_itself_computes() -> None:
    """We read wordllama's packaged table and tokenizer ourselves (its import reconfigures the root
    logger); the library, run in another process, must give the same vectors."""
    script = (
        "import json, sys, importlib.util, pathlib\n"
        "from wordllama import WordLlama\n"
        "d = pathlib.Path(next(iter(importlib.util.find_spec('wordllama').submodule_search_locations)))\n"
        "wl = WordLlama.load(cache_dir=d, disable_download=True)\n"
        "print(json.dumps(wl.embed(json.loads(sys.argv[1]), norm=True).tolist()))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, json.dumps(QUESTIONS)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = np.array(json.loads(done.stdout.strip().splitlines()[-1]), dtype=np.float32)
    ours = semantic.embed(QUESTIONS)
    assert ours.shape == (len(QUESTIONS), semantic.DIMENSIONS)
    assert np.allclose(ours, theirs, atol=1e-5)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_empty_text_is_a_zero_vector_not_nan() -> None:
    v = semantic.embed(["", "hello"])
    assert not v[0].any() and not np.isnan(v).any()


def test_a_paraphrase_finds_its_entry_with_no_word_in_common() -> None:
    """"working from my flat" shares no content word with "intern from home" or "virtual
    internship"; the examples' sentence vectors still put the remote entry closest."""
    remote = Entry("club-remote", "Interning remotely", "club", "Remote interns over-communicate with their mentor.",
                   ("remote",), ("s",), examples=("can i intern from home", "is a virtual internship as good as an office one"))
    dress = Entry("club-dress", "What to wear", "club", "Wear what the team wears; ask the recruiter when unsure.",
                  ("dress code",), ("s",), examples=("what clothes should i wear to the office", "is there a dress code"))
    index = AdviceIndex([remote, dress])
    for question in ("working from my flat the whole summer, ok?", "doing it all online from my bedroom"):
        near = index.meaning(question).near
        assert near[0] > near[1], question
    near = index.meaning("are jeans and a t-shirt fine on the first day").near
    assert near[1] > near[0]


def test_the_classifier_learns_what_tells_entries_apart_from_their_examples() -> None:
    """Trained on the example questions alone, it gives a new wording of one entry's question the
    highest probability, and the search answers with that entry."""
    visa = Entry("club-visa", "Visas for internships", "club", "Ask the company whether it sponsors a work visa.",
                 ("visa",), ("s",), examples=("do i need a visa to intern abroad", "will they sponsor my work permit",
                                              "can international students intern here", "what paperwork do foreign interns need"))
    pay = Entry("club-pay", "Paid and unpaid internships", "club", "Most ML internships are paid; unpaid ones are rare.",
                ("paid",), ("s",), examples=("are ml internships paid", "is it normal to intern for free",
                                             "how much do interns earn", "should i accept an unpaid internship"))
    hours = Entry("club-hours", "Working hours", "club", "Interns usually work the team's normal hours.",
                  ("hours",), ("s",), examples=("how many hours a week do interns work", "do interns work weekends",
                                                "is overtime expected from interns", "when does an intern's day start"))
    index = AdviceIndex([visa, pay, hours])
    cases = {"am i allowed to work there on a student passport from another country": 0,
             "will i get a salary or is it volunteering": 1,
             "do they expect me at the desk on saturdays": 2}
    for question, right in cases.items():
        probability = index.meaning(question).probability
        assert probability.argmax() == right, (question, probability)
        assert index.search(question).entries[0].id == (visa, pay, hours)[right].id, question
