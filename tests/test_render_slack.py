"""Reply → Block Kit: within Slack's limits, nothing dropped, nothing from a user or feed able to ping or disguise."""

from __future__ import annotations

import random
import re

from bot.adapters.slack import SlackAdapter, unescape
from bot.models import ActionButton, Card, Field, LinkButton, Reply
from bot.render.slack import render_messages

KNOWN = {"header", "section", "context", "actions", "divider"}


def check(payload: dict) -> None:
    assert payload["text"].strip()
    blocks = payload["blocks"]
    assert 1 <= len(blocks) <= 50
    for block in blocks:
        assert block["type"] in KNOWN
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150 and block["text"]["type"] == "plain_text"
        if block["type"] == "section":
            if "text" in block:
                assert 1 <= len(block["text"]["text"]) <= 3000
            if "fields" in block:
                assert 1 <= len(block["fields"]) <= 10 and all(len(f["text"]) <= 2000 for f in block["fields"])
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
        if block["type"] == "actions":
            assert 1 <= len(block["elements"]) <= 25
            ids = [e["action_id"] for e in block["elements"]]
            assert len(set(ids)) == len(ids) and all(len(i) <= 255 for i in ids)
            assert all(len(e["text"]["text"]) <= 75 for e in block["elements"])


def words(rng: random.Random, n: int) -> str:
    vocab = ["alpha", "beta", "résumé", "ML", "intern", "x" * 30, "\n", "\n\n", "data"]
    return " ".join(rng.choice(vocab) for _ in range(n))


def visible(payloads: list[dict], plain: bool = False) -> str:
    """The text Slack parses (mrkdwn), and with ``plain`` the plain_text headers too."""
    out = []
    for p in payloads:
        for b in p["blocks"]:
            if "text" in b and (plain or b["text"]["type"] == "mrkdwn"):
                out.append(b["text"]["text"])
            out += [f["text"] for f in b.get("fields", [])]
            out += [e["text"] for e in b.get("elements", []) if e.get("type") == "mrkdwn"]
    return "".join(out)


def test_random_replies_fit_and_keep_every_word():
    rng = random.Random(7)
    for _ in range(150):
        cards = [
            Card(
                title=words(rng, rng.randint(0, 40)),
                body=words(rng, rng.randint(0, 1200)),
                fields=[Field(words(rng, 3), words(rng, rng.randint(1, 300))) for _ in range(rng.randint(0, 30))],
                footer=words(rng, rng.randint(0, 30)),
                buttons=[ActionButton(f"b{i}", "advice topic", {"name": f"e{i}"}) for i in range(rng.randint(0, 30))],
            )
            for _ in range(rng.randint(0, 12))
        ]
        reply = Reply(text=words(rng, rng.randint(0, 1500)), cards=cards)
        payloads = render_messages(reply)
        for payload in payloads:
            check(payload)
        total_words = sum(len(re.findall(r"alpha|beta", c.body)) for c in cards) + len(re.findall(r"alpha|beta", reply.text))
        assert len(re.findall(r"alpha|beta", visible(payloads, plain=True))) >= total_words
        buttons = [e for p in payloads for b in p["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert len(buttons) == sum(len(c.buttons) for c in cards)


def test_hostile_text_is_shown_literally():
    hostile = "<!channel> <!here> <@U123> <http://evil.example|your bank> &lt; [bank](http://evil.example) @everyone"
    payloads = render_messages(Reply(text=hostile, cards=[Card(title=hostile, body=hostile, fields=[Field(hostile, hostile)], footer=hostile)]))
    # Everything Slack parses (mrkdwn and the fallback text) is escaped; a header is plain_text,
    # which Slack never parses for mentions or links.
    header = next(b for p in payloads for b in p["blocks"] if b["type"] == "header")
    assert header["text"]["type"] == "plain_text"
    everything = str([p["text"] for p in payloads]) + visible(payloads)
    for bad in ("<!channel>", "<!here>", "<@U123>", "<http://evil.example|your bank>"):
        assert bad not in everything
    assert "&lt;!channel&gt;" in everything and "&amp;lt;" in everything
    assert "bank (<http://evil.example>)" in everything  # a Markdown link keeps its address in sight


def test_link_and_action_buttons_and_card_links():
    reply = Reply(cards=[Card(title="Paper", url="https://arxiv.org/abs/2401.01234", buttons=[
        LinkButton("arXiv", "https://arxiv.org/abs/2401.01234"),
        ActionButton("Pause #1", "digest pause", {"id": "1"}, style="danger"),
    ])])
    [payload] = render_messages(reply)
    check(payload)
    actions = next(b for b in payload["blocks"] if b["type"] == "actions")["elements"]
    assert actions[0]["url"].startswith("https://arxiv.org") and actions[0]["action_id"].startswith("link:")
    assert actions[1]["action_id"] == "cb1:digest.pause?id=1" and actions[1]["style"] == "danger"
    assert "<https://arxiv.org/abs/2401.01234|Paper>" in payload["blocks"][0]["text"]["text"]


def test_sixty_cards_become_several_messages():
    payloads = render_messages(Reply(cards=[Card(title=f"t{i}", body="b") for i in range(60)]))
    assert len(payloads) > 1
    for payload in payloads:
        check(payload)
    headers = [b["text"]["text"] for p in payloads for b in p["blocks"] if b["type"] == "header"]
    assert headers == [f"t{i}" for i in range(60)]


def test_what_people_type_is_unescaped_but_mentions_stay_markup():
    assert unescape("a &amp; b &lt;3 <@U1|ilya> <#C1|news>") == "a & b <3 <@U1|ilya> <#C1|news>"
    assert SlackAdapter.line("") == "/help"
    assert SlackAdapter.line("advice do i need a phd") == "/advice do i need a phd"
    assert SlackAdapter.line("  /paper today ") == "/paper today"
