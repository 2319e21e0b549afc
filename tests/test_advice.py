"""/advice as a student uses it. Questions here are our own phrasings, not the dev set's."""

from __future__ import annotations

import pytest

from commands.advice import service
from commands.advice.search import AdviceIndex
from bot.storage.advice_repo import Entry

pytestmark = pytest.mark.both_engines  # run on SQLite and on PostgreSQL (tests/conftest.py)


@pytest.mark.parametrize(
    "question, topic",
    [
        ("is a doctorate mandatory for deep learning intern roles", "myths-phd-required"),
        ("where can I train models on a GPU for free", "deep-learning-practice-hardware"),
        ("which job sites list machine learning internships", "where-to-find-postings"),
        ("how do i practice for the coding round", "interview-prep-coding"),
        ("can international students apply to us internships", "myths-us-only"),
        ("should I send my CV to start-ups instead of Google", "target-startups-small-companies"),
        ("is kaggle worth it", "competitions-kaggle"),
        ("what do ml interns do all day", "during-internship-expectations"),
        ("when do applications for summer internships open", "applying-routes-timing"),
        ("docker kubernetes sql for ml interns?", "software-engineering-tools"),
    ],
)
async def test_questions_find_the_right_topic(console, question, topic):
    """Answered outright in that topic, or, when a second entry comes close, offered first among
    the choices: being unsure is how /advice avoids confidently wrong answers."""
    reply = await console.say(f"/advice {question}")
    assert reply["kind"] == "info"
    card = reply["cards"][0]
    if card["title"] == "Pick the closest":
        first = card["buttons"][0]["values"]["name"]
        assert service(console.app).entries[first].topic == topic, reply["text"]
    else:
        assert f"({topic})" in card["footer"]


async def test_typos_and_shorthand_are_understood(console):
    typo = await console.text("/advice how do I prepair for intervews")
    assert "interview" in typo.lower()
    shorthand = await console.say("/advice do i need a phd 4 faang")
    assert shorthand["cards"], shorthand["text"]


async def test_answers_fit_one_message_and_cite_their_sources(console):
    reply = await console.say("/advice do i need a phd for an ml internship")
    card = reply["cards"][0]
    assert len(card["body"]) <= 1500
    assert "Based on:" in card["footer"] and "PhD" in card["title"]
    assert card["fields"] and card["fields"][0]["name"] == "See also"


@pytest.mark.parametrize(
    "question",
    [
        "what's a good recipe for banana bread",
        "how do I configure nginx as a reverse proxy",
        "who won the world cup in 2022",
        "zxqv plorb wibble",
        "@everyone",
        "time complexity of heapsort",
        "what gpu should i buy for gaming",
        "ICLR 2027 deadline",
    ],
)
async def test_off_topic_questions_are_refused_with_at_most_three_topics(console, question):
    reply = await console.say(f"/advice {question}")
    assert reply["kind"] == "nomatch" and reply["cards"] == []
    assert reply["text"].startswith("I don't have advice on that")
    assert reply["text"].count("/advice topic ") <= 3  # the nearest few, never the whole list
    assert "/advice topics" in reply["text"]
    assert "@everyone" not in reply["text"]


async def test_a_refusal_names_the_nearest_topics(console):
    reply = await console.say("/advice what gpu should i buy for gaming")
    assert "(/advice topic deep-learning-practice-hardware)" in reply["text"]


@pytest.mark.parametrize(
    "question, entry",
    [
        ("do I need a PhD?", "myth-phd-required"),
        ("i go to a no-name uni, can i still get into google brain", "myth-top-university"),
        ("do i have to live in the us for an ml internship", "myth-us-only"),
        ("is kaggle worth it fr", "competitions"),
        ("is kaggle legit", "competitions"),
        ("is kaggle worth it 🤔🔥", "competitions"),
        ("wat math do i need for ml", "math-for-ml"),
    ],
)
async def test_students_own_words_find_the_entry(console, question, entry):
    """The questions a new user typed that used to be refused or answered wrongly: answered, not offered."""
    reply = await console.say(f"/advice {question}")
    assert reply["kind"] == "info" and reply["cards"] and not reply["text"], reply["text"]
    assert reply["cards"][0]["title"] == service(console.app).entries[entry].title


async def test_a_cv_question_in_text_speak_gets_resume_advice(console):
    reply = await console.say("/advice cv tips pls 🙏")
    card = reply["cards"][0]
    if reply["text"].startswith("I'm not sure"):  # two résumé entries are close: both offered, best first
        first = service(console.app).entries[card["buttons"][0]["values"]["name"]]
        assert first.topic == "resume-cover-letter"
    else:
        assert "(resume-cover-letter)" in card["footer"]


async def test_an_unsure_answer_offers_the_closest_entries_as_buttons(console):
    reply = await console.say("/advice interviews")  # one word, several entries about it
    assert reply["text"].startswith("I'm not sure which you mean — one of these?")
    buttons = reply["cards"][0]["buttons"]
    assert 2 <= len(buttons) <= 3 and all(b["command"] == "advice topic" for b in buttons)
    assert all(f"/advice topic {b['values']['name']}" in reply["text"] for b in buttons)
    shown = await console.say(f"/advice topic {buttons[0]['values']['name']}")
    assert shown["cards"][0]["title"] == buttons[0]["label"].removeprefix("Show: ")


async def test_advice_alone_explains_how_to_ask(console):
    reply = await console.say("/advice")
    assert reply["kind"] == "info"
    text = await console.text("/advice")
    assert "needs QUESTION" not in text and "/advice ask" not in text
    assert "/advice do i need a phd" in text and "/advice topics" in text and "/advice topic kaggle" in text


async def test_topics_and_topic_lookup(console):
    topics = await console.say("/advice topics")
    names = [f["name"] for f in topics["cards"][0]["fields"]]
    assert "interview-process" in names and len(names) >= 25
    one = await console.say("/advice topic interview-process")
    assert len(one["cards"]) >= 2 and all("(interview-process)" in c["footer"] for c in one["cards"])
    by_id = await console.say("/advice topic alan-turing-enrichment")
    assert "February" in by_id["cards"][0]["body"]


@pytest.mark.parametrize(
    "name, topic",
    [
        ("kaggle", "competitions-kaggle"),  # a word of the name
        ("Competitions", "competitions-kaggle"),  # a prefix, any case
        ("remote-internship", "remote-internships"),  # a prefix
        ("remote internships", "remote-internships"),  # spaces for dashes
        ("netwroking-referrals", "networking-referrals"),  # a typo
        ("resume", "resume-cover-letter"),
    ],
)
async def test_topic_names_are_found_by_prefix_word_and_spelling(console, name, topic):
    reply = await console.say(f"/advice topic {name}")
    assert reply["kind"] == "info", reply["text"]
    assert reply["cards"] and all(f"({topic})" in c["footer"] for c in reply["cards"])


async def test_an_ambiguous_or_unknown_topic_suggests_names(console):
    reply = await console.say("/advice topic myths")
    assert reply["kind"] == "error"
    assert "/advice topic myths-phd-required" in reply["text"]
    assert "/advice topic myths-us-only" in reply["text"]
    nothing = await console.say("/advice topic zzzqqq")
    assert nothing["kind"] == "error" and "/advice topics lists them" in nothing["text"]


async def test_topic_names_autocomplete(app):
    from bot.context import Context
    from bot.models import Actor, Place

    arg = app.registry.resolve("advice topic").args[0]
    ctx = Context(Actor("x", "x"), Place("console", "w", "c"), app)
    assert (await arg.complete(ctx, "myth"))[:3] == ["myths-phd-required", "myths-top-university", "myths-us-only"]
    assert "remote-internships" in await arg.complete(ctx, "remote")


async def test_bad_question_input(console):
    long_question = await console.say("/advice " + "internship " * 60)
    assert long_question["kind"] == "error" and "keep it under 500" in long_question["text"]
    huge = await console.say("/advice " + "x" * 10_000)
    assert huge["kind"] == "error" and "at most 4,000" in huge["text"]


async def test_the_knowledge_base_is_loaded_into_sqlite_once(app):
    rows = await app.db.fetchall("SELECT count(*) AS n FROM advice_entries")
    assert rows[0]["n"] >= 40
    svc = service(app)
    assert len(svc.entries) == rows[0]["n"]
    stamp = await app.db.fetchone("SELECT value FROM meta WHERE key = 'advice.builtin_hash'")
    assert stamp and len(stamp["value"]) == 64


async def test_workspace_entries_only_answer_in_their_workspace():
    local = Entry("club-mentors", "Club mentor programme", "networking-referrals",
                  "Our club pairs members with alumni mentors every term.", ("mentor programme", "alumni"), ("club",), "ws1")
    index = AdviceIndex([local])
    assert index.search("alumni mentor programme", workspace_id="ws1").entries == [local]
    elsewhere = index.search("alumni mentor programme", workspace_id="ws2")
    assert elsewhere.status == "refused" and elsewhere.matches == []


def test_two_entries_that_match_equally_are_offered_not_picked():
    a = Entry("alumni-dinner", "The alumni dinner", "club", "Alumni meet students at a dinner each spring.",
              ("alumni dinner",), ("s",), examples=("when is the alumni dinner",))
    b = Entry("alumni-talks", "Alumni talks", "club", "Alumni give talks to students each autumn.",
              ("alumni talks",), ("s",), examples=("when are the alumni talks",))
    index = AdviceIndex([a, b])
    tie = index.search("alumni")
    assert tie.status == "unsure" and {e.id for e in tie.entries} == {"alumni-dinner", "alumni-talks"}
    clear = index.search("when is the alumni dinner this spring")
    assert clear.status == "answer" and clear.entries[0].id == "alumni-dinner"


def test_a_typo_in_an_example_question_is_not_a_word_of_its_own():
    """A misspelling seen once in an example ("reserch") is indexed as the entries spell it, so
    it neither wins rare-word weight for that entry nor blocks correcting the same typo in a question."""
    a = Entry("research-groups", "Research groups", "club", "Join a research group to read papers together.",
              ("research group",), ("s",), examples=("how do i find a reserch group", "research group meetings?"))
    b = Entry("study-groups", "Study groups", "club", "Study groups meet weekly to practise interviews.",
              ("study group",), ("s",), examples=("how do study groups work", "weekly study group?"))
    index = AdviceIndex([a, b])
    assert "reserch" not in index.vocabulary and index.vocabulary.term("reserch") == "research"
    assert index.search("reserch group").entries[0].id == "research-groups"


def test_short_real_words_are_not_corrected_into_other_words():
    """Typo correction needs five letters, and below eight only a dropped or swapped letter:
    "alone" is not "alan", "print" is not "point"."""
    e = Entry("alan-turing", "Alan Turing scheme", "club", "The Alan Turing scheme points students to research.",
              ("alan turing",), ("s",), examples=("what is the alan turing scheme",))
    index = AdviceIndex([e])
    assert index.vocabulary.term("alone") != "alan"
    assert index.vocabulary.term("print") != "point"
    assert index.vocabulary.term("schme") == "scheme"


async def test_entry_bodies_name_commands_as_each_front_end_spells_them(app):
    """Bodies are written once with the console's spelling; on Slack, where every command sits
    under one root command, a reader is told the command that works there."""
    from bot.adapters.slack import SlackFrontend
    from commands.advice import entry_card

    svc = service(app)
    entry = next(e for e in svc.entries.values() if "`/advice topic " in e.body)
    console = entry_card(svc, entry).body
    slack = entry_card(svc, entry, SlackFrontend("/careerbot").cmd).body
    assert "`/advice topic " in console
    assert "`/advice" not in slack and "`/careerbot advice topic " in slack
    assert slack.replace("/careerbot advice", "/advice") == console
