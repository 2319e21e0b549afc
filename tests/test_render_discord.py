"""The Discord renderer splits instead of cutting: every payload within every Discord limit,
and every character of the reply still there, in order, across the messages.

The property tests draw a few hundred seeded random replies (huge bodies, 60-field cards,
long unbroken words, non-ASCII, buttons of every kind); the concrete ones pin the cases
that once went wrong (29 fields shown as 25, a 6,256-character embed answered with 400).
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from bot.buttons import encode
from bot.models import ActionButton, Button, Card, Field, LinkButton, Reply
from bot.render.discord import render_message, render_messages
from bot.render.fit import split_card, split_text
from bot.text import shorten

ZWSP = "\u200b"
CONT = "(cont.)"


# -- limits ----------------------------------------------------------------------------------
def check_limits(payload: dict[str, Any]) -> None:
    """Every Discord "create message" limit the renderer promises, on one payload."""
    assert set(payload) <= {"content", "embeds", "components", "allowed_mentions"}, payload.keys()
    assert payload["allowed_mentions"] == {"parse": []}
    assert payload.get("content") or payload.get("embeds") or payload.get("components"), "empty payload"
    if "content" in payload:
        content = payload["content"]
        assert 1 <= len(content) <= 2000
        assert content.strip(), "whitespace-only content"
    embeds = payload.get("embeds", [])
    assert len(embeds) <= 10
    total = 0
    for embed in embeds:
        total += _check_embed(embed)
    assert total <= 6000, total
    rows = payload.get("components", [])
    assert len(rows) <= 5
    for row in rows:
        assert row["type"] == 1 and 1 <= len(row["components"]) <= 5
        for button in row["components"]:
            _check_button(button)


def _check_embed(embed: dict[str, Any]) -> int:
    text = [embed.get("title", ""), embed.get("description", ""), embed.get("footer", {}).get("text", "")]
    assert any(text) or embed.get("fields"), "empty embed"
    assert len(embed.get("title", "")) <= 256
    assert len(embed.get("description", "")) <= 4096
    assert len(embed.get("footer", {}).get("text", "")) <= 2048
    assert "url" not in embed or "title" in embed
    for key in ("title", "description"):
        assert key not in embed or embed[key].strip(), f"blank {key}"
    fields = embed.get("fields", [])
    assert len(fields) <= 25
    for f in fields:
        assert 1 <= len(f["name"]) <= 256 and f["name"].strip()
        assert 1 <= len(f["value"]) <= 1024 and f["value"].strip()
        text += [f["name"], f["value"]]
    return sum(len(t) for t in text)


def _check_button(button: dict[str, Any]) -> None:
    assert button["type"] == 2 and 1 <= len(button["label"]) <= 80
    if button["style"] == 5:
        assert "custom_id" not in button and re.match(r"https?://", button["url"]) and len(button["url"]) <= 512
    else:
        assert button["style"] in (1, 2, 4) and "url" not in button and len(button["custom_id"]) <= 100


# -- no text lost ------------------------------------------------------------------------------
def nonws(text: str) -> str:
    return re.sub(r"[\s\u200b]+", "", text)


def _normalise(tagged: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drops what has no visible text and joins neighbours of one kind (a split piece's parts)."""
    out: list[tuple[str, str]] = []
    for tag, text in tagged:
        text = nonws(text)
        if not text:
            continue
        if out and out[-1][0] == tag:
            out[-1] = (tag, out[-1][1] + text)
        else:
            out.append((tag, text))
    return out


def _is_link_button(button: Button) -> bool:
    return isinstance(button, LinkButton) and bool(re.match(r"https?://[^/]", button.url)) and len(button.url) <= 512


def expected_text(reply: Reply) -> list[tuple[str, str]]:
    """The reply's visible text as (kind, text): a long title/name is shown short, then in full."""
    tagged = [("text", reply.text)]
    for card in reply.cards:
        title, body = card.title, card.body
        if len(title) > 256:
            title, body = shorten(title, 256), title + body
        if len(card.footer) > 2048:
            body += card.footer
        links = [f"[{b.label}]({b.url})" for b in card.buttons if isinstance(b, LinkButton) and not _is_link_button(b)]
        tagged += [("title", title), ("body", body + "".join(links))]
        for f in card.fields:
            name, value = f.name, f.value
            if len(name) > 256:
                name, value = shorten(name, 256), name + value
            tagged += [("name", name), ("value", value)]
        tagged.append(("footer", shorten(card.footer, 2048)))
    return _normalise(tagged)


def rendered_text(payloads: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The same, read back from payloads; continuation titles and field names are markers, not text."""
    tagged: list[tuple[str, str]] = []
    for payload in payloads:
        tagged.append(("text", payload.get("content", "")))
        for embed in payload.get("embeds", []):
            title = embed.get("title", "")
            if not title.endswith(CONT):
                tagged.append(("title", title))
            tagged.append(("body", embed.get("description", "")))
            for f in embed.get("fields", []):
                if not f["name"].endswith(CONT):
                    tagged.append(("name", f["name"]))
                tagged.append(("value", f["value"]))
            tagged.append(("footer", embed.get("footer", {}).get("text", "")))
    return _normalise(tagged)


def expected_buttons(reply: Reply) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for card in reply.cards:
        for b in card.buttons:
            if isinstance(b, ActionButton):
                out.append(("action", shorten(b.label if b.label.strip() else b.command, 80), encode(b)))
            elif _is_link_button(b):
                out.append(("link", shorten(b.label if b.label.strip() else b.url, 80), b.url))
    return out


def rendered_buttons(payloads: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        ("link", b["label"], b["url"]) if b["style"] == 5 else ("action", b["label"], b["custom_id"])
        for payload in payloads
        for row in payload.get("components", [])
        for b in row["components"]
    ]


def check_reply(reply: Reply) -> list[dict[str, Any]]:
    payloads = render_messages(reply)
    assert payloads
    for payload in payloads:
        check_limits(payload)
    assert rendered_text(payloads) == expected_text(reply)
    assert rendered_buttons(payloads) == expected_buttons(reply)
    return payloads


# -- random replies ---------------------------------------------------------------------------
WORDS = ["career", "interview", "salary", "résumé", "naïve", "Zürich", "日本語", "面接", "😀", "🚀", "a", "of",
         "the", "mentor", "offer", "négociation", "Ελληνικά", "—", "x", "1234", "C++", "@everyone", "*bold*", "`code`"]


def _corpus(rng: random.Random, size: int) -> str:
    parts: list[str] = []
    length = 0
    while length < size:
        roll = rng.random()
        if roll < 0.06:
            token = "\n\n"
        elif roll < 0.14:
            token = "\n"
        elif roll < 0.16:
            token = rng.choice("xyé日") * rng.randint(100, 5000) + " "  # a long unbroken word
        else:
            token = rng.choice(WORDS) + rng.choice("  \t")[:1]
        parts.append(token)
        length += len(token)
    return "".join(parts)


class Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.corpus = _corpus(self.rng, 300_000)

    def text(self, most: int, skew: float = 2.0) -> str:
        n = int((most + 1) * self.rng.random() ** skew)
        start = self.rng.randrange(len(self.corpus) - n)
        return self.corpus[start : start + n]

    def button(self, i: int) -> Button:
        rng = self.rng
        label = self.text(100) if rng.random() < 0.9 else ""
        roll = rng.random()
        if roll < 0.5:
            return ActionButton(label, "digest preview", {"n": str(i)}, rng.choice(["primary", "secondary", "danger"]))
        if roll < 0.8:
            return LinkButton(label, f"https://example.com/jobs/{i}")
        if roll < 0.9:
            return LinkButton(label.replace("[", "").replace("]", ""), f"mailto:jobs{i}@example.com")
        return LinkButton(label, "https://example.com/" + "q" * rng.randint(500, 700) + str(i))

    def card(self, skew: float, button_skew: float) -> Card:
        rng = self.rng
        return Card(
            title=self.text(400, skew),
            body=self.text(10_000, skew),
            url="https://example.com/card" if rng.random() < 0.3 else None,
            fields=[
                Field(self.text(300, skew), self.text(3000, skew), rng.random() < 0.3)
                for _ in range(int(61 * rng.random() ** skew))
            ],
            footer=self.text(300, skew),
            buttons=[self.button(i) for i in range(int(13 * rng.random() ** button_skew))],
        )

    def reply(self) -> Reply:
        rng = self.rng
        mode = rng.random()
        if mode < 0.1:  # big: every size up to the maximum equally likely
            n_cards, skew = rng.randint(0, 60), 1.0
        elif mode < 0.3:  # many small cards: the 10-embed and 25-button caps bind first
            n_cards, skew = rng.randint(0, 60), 16.0
        else:
            n_cards, skew = int(61 * rng.random() ** 3), 3.0
        kind = rng.choice(["info", "error", "refusal", "nomatch", "notice"])
        button_skew = rng.choice([1.0, skew])  # button-heavy replies make the 25-button cap bind
        cards = [self.card(skew, button_skew) for _ in range(n_cards)]
        return Reply(text=self.text(10_000), cards=cards, kind=kind)


def test_random_replies_fit_every_limit_and_lose_nothing() -> None:
    gen = Gen(20260105)
    sizes = []
    for _ in range(300):
        sizes.append(len(check_reply(gen.reply())))
    assert max(sizes) > 10 and 1 in sizes  # the draw did reach both ends


def test_random_replies_at_the_extremes() -> None:
    gen = Gen(7)
    rng = gen.rng
    for _ in range(4):
        cards = [
            Card(
                title=gen.text(400, 0.3),
                body=gen.text(10_000, 0.3),
                fields=[Field(gen.text(300, 0.3), gen.text(3000, 0.3)) for _ in range(60)],
                footer=gen.text(300, 0.3),
                buttons=[gen.button(i) for i in range(12)],
            )
            for _ in range(rng.randint(40, 60))
        ]
        check_reply(Reply(text=gen.text(10_000, 0.3), cards=cards))


# -- concrete cases ---------------------------------------------------------------------------
def test_all_29_fields_are_shown() -> None:
    card = Card(title="Topics", body="What I can advise on:", fields=[Field(f"topic {i}", f"about {i}") for i in range(29)])
    payloads = check_reply(Reply(cards=[card]))
    assert len(payloads) == 1
    names = [f["name"] for e in payloads[0]["embeds"] for f in e.get("fields", [])]
    assert names == [f"topic {i}" for i in range(29)]
    assert [len(e.get("fields", [])) for e in payloads[0]["embeds"]] == [25, 4]
    assert payloads[0]["embeds"][1]["title"] == "Topics (cont.)"


def test_an_embed_that_would_total_6256_characters_is_split() -> None:
    card = Card(title="t" * 57, body=" ".join(["word"] * 800), fields=[Field("n" * 100, "v" * 1000) for _ in range(2)])
    naive = len(card.title) + len(card.body) + sum(len(f.name) + len(f.value) for f in card.fields)
    assert naive == 6256
    payloads = check_reply(Reply(cards=[card]))
    assert len(payloads) == 2
    for payload in payloads:
        total = sum(
            len(e.get("title", "")) + len(e.get("description", ""))
            + sum(len(f["name"]) + len(f["value"]) for f in e.get("fields", []))
            for e in payload["embeds"]
        )
        assert total <= 6000


def test_eleven_cards_take_two_messages() -> None:
    payloads = check_reply(Reply(text="head", cards=[Card(title=f"c{i}", body="b") for i in range(11)]))
    assert [len(p["embeds"]) for p in payloads] == [10, 1]
    assert payloads[0]["content"] == "head" and "content" not in payloads[1]


def test_an_empty_reply_is_one_zero_width_message() -> None:
    assert render_messages(Reply()) == [{"allowed_mentions": {"parse": []}, "content": ZWSP}]
    assert render_message(Reply(text="   \n")) == {"allowed_mentions": {"parse": []}, "content": ZWSP}


def test_mentions_stay_off_on_every_message() -> None:
    payloads = check_reply(Reply(text="@everyone " + "ping " * 1000, cards=[Card(body="@here")] * 12))
    assert len(payloads) > 2
    assert all(p["allowed_mentions"] == {"parse": []} for p in payloads)


def test_long_text_is_split_across_messages_before_the_cards() -> None:
    payloads = check_reply(Reply(text="para " * 1000, cards=[Card(title="c")]))
    assert [len(p["content"]) for p in payloads] == [1999, 1999, 1000]
    assert "embeds" not in payloads[0] and "embeds" in payloads[-1]


def test_render_message_refuses_a_reply_that_needs_two() -> None:
    one = render_message(Reply(text="hi", cards=[Card(title="t")]))
    assert one["content"] == "hi" and one["embeds"][0]["title"] == "t"
    with pytest.raises(ValueError, match="2 Discord messages"):
        render_message(Reply(cards=[Card(title=f"c{i}") for i in range(11)]))
    with pytest.raises(ValueError):
        render_message(Reply(text="z" * 3000))


def test_notices_are_never_rendered() -> None:
    reply = Reply(text="public", notices=[Reply(text="secret for the moderator")])
    assert "secret" not in repr(render_messages(reply))


def test_buttons_become_components_and_stay_with_the_last_piece() -> None:
    action = ActionButton("Preview", "digest preview", {"id": "3"}, "danger")
    card = Card(
        title="Jobs",
        body="x " * 3000,
        buttons=[LinkButton("Open", "https://example.com/j"), action, LinkButton("Mail", "mailto:a@example.com")],
    )
    payloads = check_reply(Reply(cards=[card]))
    assert len(payloads) == 2 and "components" not in payloads[0]
    (row,) = payloads[1]["components"]
    assert row["components"] == [
        {"type": 2, "style": 5, "label": "Open", "url": "https://example.com/j"},
        {"type": 2, "style": 4, "label": "Preview", "custom_id": encode(action)},
    ]
    assert payloads[1]["embeds"][-1]["description"].endswith("[Mail](mailto:a@example.com)")


def test_buttons_that_would_pass_25_start_a_new_message() -> None:
    cards = [Card(title=f"c{i}", buttons=[LinkButton(f"b{i}.{j}", f"https://e.com/{j}") for j in range(10)]) for i in range(3)]
    payloads = check_reply(Reply(cards=cards))
    assert [len(p["embeds"]) for p in payloads] == [2, 1]
    assert [sum(len(r["components"]) for r in p["components"]) for p in payloads] == [20, 10]
    many = check_reply(Reply(cards=[Card(title="many", buttons=[LinkButton(str(j), f"https://e.com/{j}") for j in range(30)])]))
    assert [sum(len(r["components"]) for r in p.get("components", [])) for p in many] == [25, 5]


def test_a_footer_over_2048_is_shortened_and_kept_whole_in_the_body() -> None:
    footer = "source " * 400
    payloads = check_reply(Reply(cards=[Card(title="t", body="b", footer=footer)]))
    embeds = [e for p in payloads for e in p["embeds"]]
    assert embeds[-1]["footer"]["text"].endswith("…")
    assert nonws(footer) in nonws("".join(e.get("description", "") for e in embeds))


def test_a_card_with_no_text_still_shows_its_buttons() -> None:
    payloads = check_reply(Reply(cards=[Card(buttons=[ActionButton("Go", "digest preview")])]))
    assert payloads[0]["embeds"] == [{"color": 0x5865F2, "description": ZWSP}]
    assert payloads[0]["components"][0]["components"][0]["label"] == "Go"


def test_colour_follows_the_kind() -> None:
    payload = render_message(Reply(cards=[Card(title="no")], kind="error"))
    assert payload["embeds"][0]["color"] == 0xD9534F


# -- split_text ----------------------------------------------------------------------------
def _rebuilds(text: str, chunks: list[str]) -> bool:
    """text == whitespace + chunk + whitespace + chunk ... + whitespace."""
    pattern = r"\s*" + r"\s*".join(re.escape(c) for c in chunks) + r"\s*"
    return re.fullmatch(pattern, text) is not None


def test_split_text_keeps_short_text_and_drops_empty() -> None:
    assert split_text("", 10) == []
    assert split_text(" \n ", 10) == []
    assert split_text("  fits\n", 10) == ["  fits\n"]


def test_split_text_prefers_blank_lines_then_newlines_then_spaces() -> None:
    text = "first paragraph line\nsecond line here\n\nnext paragraph words"
    assert split_text(text, 45) == ["first paragraph line\nsecond line here", "next paragraph words"]
    assert split_text("aaaa bbbb\ncccc dddd eeee", 16) == ["aaaa bbbb", "cccc dddd eeee"]
    assert split_text("aaaa bbbb cccc dddd eeee", 12) == ["aaaa bbbb", "cccc dddd", "eeee"]


def test_split_text_does_not_cut_tiny_pieces_for_an_early_blank_line() -> None:
    text = "hi\n\n" + "word " * 20
    chunks = split_text(text, 40)
    assert len(chunks[0]) > 20 and all(len(c) <= 40 for c in chunks) and _rebuilds(text, chunks)


def test_split_text_hard_cuts_a_5000_character_word() -> None:
    word = "é" * 5000
    assert split_text(word, 2000) == ["é" * 2000, "é" * 2000, "é" * 1000]
    chunks = split_text("intro " + word + " outro", 2000)
    assert chunks == ["intro", "é" * 2000, "é" * 2000, "é" * 1000 + " outro"]


def test_split_text_respects_the_limit_and_keeps_every_character() -> None:
    gen = Gen(11)
    for _ in range(300):
        limit = gen.rng.choice([1, 2, 7, 80, 1024, 2000, 4096])
        text = gen.text(12_000 if limit > 50 else 500, 1.0)
        chunks = split_text(text, limit)
        assert all(0 < len(c) <= limit and c.strip() for c in chunks)
        assert nonws("".join(chunks)) == nonws(text)
        assert _rebuilds(text, chunks)


def test_split_text_refuses_a_limit_below_one() -> None:
    with pytest.raises(ValueError):
        split_text("x", 0)


# -- split_card -----------------------------------------------------------------------------
LIMITS = dict(body=100, fields=3, field_name=20, field_value=50, title=30)


def test_split_card_leaves_a_fitting_card_alone() -> None:
    card = Card(title="t", body="b", url="https://e.com", fields=[Field("n", "v", True)], footer="f",
                buttons=[LinkButton("l", "https://e.com")])
    assert split_card(card, **LIMITS) == [card]


def test_split_card_continues_fields_and_keeps_footer_and_buttons_last() -> None:
    button = ActionButton("Go", "digest preview")
    fields = [Field(f"f{i}", "v") for i in range(7)]
    card = Card(title="Title", url="https://e.com", fields=fields, footer="foot", buttons=[button])
    pieces = split_card(card, **LIMITS)
    assert [len(p.fields) for p in pieces] == [3, 3, 1]
    assert [p.title for p in pieces] == ["Title", "Title (cont.)", "Title (cont.)"]
    assert [p.url for p in pieces] == ["https://e.com", None, None]
    assert [p.footer for p in pieces] == ["", "", "foot"]
    assert [p.buttons for p in pieces] == [[], [], [button]]


def test_split_card_splits_a_long_value_into_continued_fields() -> None:
    value = " ".join(f"w{i:02d}" for i in range(40))  # 159 characters
    pieces = split_card(Card(fields=[Field("Skills", value, True)]), **LIMITS)
    fields = [f for p in pieces for f in p.fields]
    assert [f.name for f in fields] == ["Skills", "Skills (cont.)", "Skills (cont.)", "Skills (cont.)"]
    assert all(len(f.value) <= 50 and f.inline for f in fields)
    assert " ".join(f.value for f in fields) == value


def test_split_card_moves_a_long_title_into_the_body() -> None:
    title = "A very long title that will not fit here"
    pieces = split_card(Card(title=title, body="x " * 80), **LIMITS)
    assert pieces[0].title == shorten(title, 30) and pieces[0].title.endswith("…")
    assert pieces[0].body.startswith(title)
    assert all(len(p.title) <= 30 and len(p.body) <= 100 for p in pieces)
    assert pieces[1].title.endswith(" (cont.)")
    assert nonws("".join(p.body for p in pieces)) == nonws(title + "x " * 80)


def test_split_card_long_field_name_goes_whole_into_its_value() -> None:
    name = "a field name far too long"
    (piece,) = split_card(Card(fields=[Field(name, "v")]), **LIMITS)
    assert piece.fields[0].name == shorten(name, 20) and piece.fields[0].value.startswith(name)


def test_split_card_total_caps_each_piece() -> None:
    card = Card(title="T", body="b " * 40, fields=[Field("n", "v" * 40) for _ in range(5)], footer="f" * 30)
    pieces = split_card(card, **LIMITS, total=100)
    sizes = [len(p.title) + len(p.body) + len(p.footer) + sum(len(f.name) + len(f.value) for f in p.fields) for p in pieces]
    assert all(s <= 100 for s in sizes) and pieces[-1].footer == "f" * 30
    assert sum(len(p.fields) for p in pieces) == 5
    with pytest.raises(ValueError):
        split_card(card, **LIMITS, total=20)
