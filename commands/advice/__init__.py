"""/advice: answers to students' questions about getting ML internships.

Answers come from our own knowledge base (``entries/*.md``), loaded into SQLite at start-up
and searched in memory. Nothing here waits on the network.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

from bot.context import Context
from bot.frontend import Frontend
from bot.models import ActionButton, Card, Field, Reply
from bot.registry import Arg, CommandError, Registry
from bot.storage import advice_repo
from bot.storage.advice_repo import Entry
from bot.text import quote_input
from commands.advice.knowledge import Catalog, load_builtin
from commands.advice.search import AdviceIndex, Match

STATE_KEY = "advice"
MAX_QUESTION = 500


@dataclass
class AdviceService:
    """What the commands and the CLI share: the entries, their topics and the index."""

    entries: dict[str, Entry]
    topics: dict[str, str]
    catalog: Catalog
    index: AdviceIndex

    def search(self, question: str, limit: int = 3, workspace_id: str | None = None) -> list[Match]:
        return self.index.search(question, limit=limit, workspace_id=workspace_id)

    def by_topic(self, topic: str) -> list[Entry]:
        return [e for e in self.entries.values() if e.topic == topic]

    def topic_names(self) -> list[str]:
        return [t for t in self.topics if self.by_topic(t)]

    def source_title(self, source_id: str) -> str:
        return self.catalog.sources.get(source_id, source_id)


async def setup(app) -> None:  # noqa: ANN001 - App is imported lazily to avoid a cycle
    entries, catalog, digest = load_builtin()
    if await advice_repo.builtin_hash(app.db) != digest:
        await advice_repo.replace_builtin(app.db, entries, catalog.topics, digest)
    stored = await advice_repo.load_entries(app.db)
    app.state[STATE_KEY] = AdviceService(
        entries={e.id: e for e in stored},
        topics=await advice_repo.load_topics(app.db),
        catalog=catalog,
        index=AdviceIndex(stored),
    )
    from commands.advice.tips import TipsProvider

    app.providers.add(TipsProvider(), aliases=("tip", "advice"))


def service(ctx_or_app) -> AdviceService:  # noqa: ANN001
    app = getattr(ctx_or_app, "app", ctx_or_app)
    return app.state[STATE_KEY]


def entry_card(svc: AdviceService, entry: Entry) -> Card:
    sources = "; ".join(svc.source_title(s).split(" — ")[0] for s in entry.sources)
    topic_title = svc.topics.get(entry.topic, entry.topic)
    return Card(
        title=entry.title,
        body=entry.body,
        footer=f"Topic: {topic_title} ({entry.topic}) · Based on: {sources}",
    )


CommandName = Callable[[str], str]


def answer_reply(svc: AdviceService, matches: list[Match], cmd: CommandName = Frontend().cmd) -> Reply:
    if not matches:
        return no_advice_reply(svc, cmd)
    card = entry_card(svc, matches[0].entry)
    if len(matches) > 1:
        card.fields.append(
            Field("See also", "\n".join(f"• {m.entry.title} — {cmd('advice topic ' + m.entry.id)}" for m in matches[1:]))
        )
        card.buttons = [ActionButton(f"Show: {m.entry.title}"[:80], "advice topic", {"name": m.entry.id}) for m in matches[1:]]
    return Reply(cards=[card])


def no_advice_reply(svc: AdviceService, cmd: CommandName = Frontend().cmd) -> Reply:
    names = ", ".join(svc.topic_names())
    return Reply(
        text=(
            "I don't have advice on that. I can help with ML internships: "
            f"{names}. Try {cmd('advice topics')}, or rephrase your question."
        ),
        kind="nomatch",
    )


async def _complete_topic(ctx: Context, prefix: str) -> list[str]:
    svc = service(ctx)
    prefix = prefix.lower().strip()
    names = svc.topic_names() + sorted(svc.entries)
    starts = [n for n in names if n.startswith(prefix)]
    contains = [n for n in names if prefix in n and n not in starts]
    return (starts + contains)[:25]


def _topic_hint(ctx: Context, svc: AdviceService, key: str) -> str:
    """Suggests every topic the name starts (e.g. "myths" -> all three myth topics)."""
    prefixed = [t for t in svc.topic_names() if t.startswith(key.rstrip("s"))] if len(key) >= 3 else []
    if prefixed:
        return "Did you mean " + " or ".join(ctx.cmd(f"advice topic {t}") for t in prefixed[:4]) + "?"
    guess = difflib.get_close_matches(key, svc.topic_names() + list(svc.entries), n=1, cutoff=0.5)
    if guess:
        return f"Did you mean {ctx.cmd('advice topic ' + guess[0])}?"
    return f"{ctx.cmd('advice topics')} lists them."


def register(registry: Registry) -> None:
    advice = registry.group("advice", help="Advice on getting a machine-learning internship.")

    @advice.command(
        "ask",
        help="Ask a question in your own words, e.g. do I need a PhD?",
        args=[Arg("question", "your question about ML internships", rest=True, max_len=MAX_QUESTION)],
        default=True,
    )
    async def ask(ctx: Context, question: str) -> Reply:
        svc = service(ctx)
        return answer_reply(svc, svc.search(question, limit=3, workspace_id=ctx.place.workspace_id), ctx.cmd)

    @advice.command("topics", help="List the topics I have advice on.")
    async def topics(ctx: Context) -> Reply:
        svc = service(ctx)
        fields = [
            Field(name, f"{svc.topics[name]} ({len(svc.by_topic(name))})", inline=True) for name in svc.topic_names()
        ]
        return Reply(
            cards=[
                Card(
                    title="Advice topics",
                    body=f"Show one with {ctx.cmd('advice topic NAME')}, or just ask: {ctx.cmd('advice YOUR QUESTION')}",
                    fields=fields,
                )
            ]
        )

    @advice.command(
        "topic",
        help="Show the advice on one topic (or one entry by its id).",
        args=[Arg("name", "a topic name from the advice topics list", max_len=80, complete=_complete_topic)],
    )
    async def topic(ctx: Context, name: str) -> Reply:
        svc = service(ctx)
        key = name.strip().lower().replace(" ", "-")
        if key in svc.entries:
            return Reply(cards=[entry_card(svc, svc.entries[key])])
        entries = svc.by_topic(key)
        if not entries:
            raise CommandError(f"There is no advice topic {quote_input(name)}. {_topic_hint(ctx, svc, key)}")
        return Reply(text=f"{svc.topics.get(key, key)}:", cards=[entry_card(svc, e) for e in entries])
