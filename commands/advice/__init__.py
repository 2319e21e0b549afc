"""/advice: answers to students' questions about getting ML internships.

Answers come from our own knowledge base (``entries/*.md``), loaded into SQLite at start-up
and searched in memory. Nothing here waits on the network.

Each question is recorded without its asker (``advice_asks``) so ``careerbot advice report``
can show a moderator what students asked that the knowledge base does not answer, and the
👍/👎 buttons under an answer say which entries miss.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources

from bot.clock import iso_utc
from bot.context import Context
from bot.frontend import Frontend
from bot.models import ActionButton, Card, Field, Reply, Role
from bot.registry import Arg, CommandError, Registry
from bot.storage import advice_repo
from bot.storage.advice_repo import Entry
from bot.text import quote_input
from commands.advice import index_cache
from commands.advice.knowledge import Catalog, load_builtin
from commands.advice.language import content_words, question_key, stem
from commands.advice.search import AdviceIndex, Answer

STATE_KEY = "advice"
MAX_QUESTION = 500
RETENTION = timedelta(days=180)  # questions and votes are forgotten after this
_SALT_KEY = "advice.voter_salt"


@functools.cache
def _lines(name: str) -> tuple[str, ...]:
    """A packaged text file's lines, blanks and # comments left out (asked.txt is read once for both sides)."""
    text = (resources.files("commands.advice") / name).read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def _asked(label: str) -> list[str]:
    return [line[len(label) + 1 :].strip() for line in _lines("asked.txt") if line.startswith(label + ":")]


def load_out_of_domain() -> list[str]:
    """What the domain model learns to refuse: the near-domain questions we wrote
    (``out_of_domain.txt``) and the out-of-domain questions of our labelled sets (``asked.txt``)."""
    return [*_lines("out_of_domain.txt"), *_asked("out")]


def load_in_domain() -> list[str]:
    """Questions students asked that are about ML careers, worded as they really write
    (``asked.txt``): the domain model learns the in-domain side from these as well as from
    the entries' own examples, which we wrote."""
    return _asked("in")


@dataclass
class AdviceService:
    """What the commands and the CLI share: the entries, their topics and the index."""

    entries: dict[str, Entry]
    topics: dict[str, str]
    catalog: Catalog
    index: AdviceIndex
    salt: str = ""

    def search(self, question: str, limit: int = 3, workspace_id: str | None = None) -> Answer:
        return self.index.search(question, limit=limit, workspace_id=workspace_id)

    def by_topic(self, topic: str) -> list[Entry]:
        return [e for e in self.entries.values() if e.topic == topic]

    def topic_names(self) -> list[str]:
        return [t for t in self.topics if self.by_topic(t)]

    def source_title(self, source_id: str) -> str:
        return self.catalog.sources.get(source_id, source_id)

    def find(self, name: str) -> tuple[list[str], list[str]]:
        """(topics, entries) a typed name means, best first.

        Topics and entries are found the same way: the exact name, a prefix of a name
        ("myths", "remote"), a word of a name or title ("kaggle" -> competitions-kaggle), or a
        close spelling. Several equally good candidates are all returned, for the user to pick.
        """
        key = "-".join(name.strip().lower().replace("_", " ").split())
        topics, entries = self.topic_names(), sorted(self.entries)
        if key in self.topics and key in topics:
            return [key], []
        if key in self.entries:
            return [], [key]
        for pool in (topics, entries):
            starts = [n for n in pool if n.startswith(key)] if len(key) >= 3 else []
            if starts:
                return (starts, []) if pool is topics else ([], starts)
        wanted = {stem(w) for w in content_words(name.replace("-", " "))}
        if wanted:
            def overlap(slug: str, title: str) -> int:
                have = {stem(w) for w in content_words(slug.replace("-", " ") + " " + title)}
                return len(wanted & have)

            for pool, titles in ((topics, self.topics), (entries, {k: e.title for k, e in self.entries.items()})):
                scored = sorted(((overlap(n, titles[n]), n) for n in pool), key=lambda x: (-x[0], x[1]))
                if scored and scored[0][0] == len(wanted):
                    best = [n for sc, n in scored if sc == scored[0][0]]
                    return (best, []) if pool is topics else ([], best)
        close = difflib.get_close_matches(key, topics + entries, n=3, cutoff=0.6)
        return [c for c in close if c in self.topics], [c for c in close if c in self.entries]


async def setup(app) -> None:  # noqa: ANN001 - App is imported lazily to avoid a cycle
    entries, catalog, digest = load_builtin()
    if await advice_repo.builtin_hash(app.db) != digest:
        await advice_repo.replace_builtin(app.db, entries, catalog.topics, digest)
    stored = await advice_repo.load_entries(app.db)
    app.state[STATE_KEY] = AdviceService(
        entries={e.id: e for e in stored},
        topics=await advice_repo.load_topics(app.db),
        catalog=catalog,
        index=index_cache.load_or_build(stored, load_out_of_domain(), in_domain=load_in_domain()),
        salt=await _voter_salt(app.db),
    )
    app.retention.add("advice questions", lambda conn, now: advice_repo.prune_asks(conn, iso_utc(now - RETENTION)))
    from commands.advice.tips import TipsProvider

    app.providers.add(TipsProvider(), aliases=("tip", "advice"))


async def _voter_salt(db) -> str:  # noqa: ANN001
    """A per-install secret, so a vote's voter hash cannot be recomputed from a platform id alone."""
    row = await db.fetchone("SELECT value FROM meta WHERE key = ?", (_SALT_KEY,))
    if row:
        return row["value"]
    salt = secrets.token_hex(16)
    await db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (_SALT_KEY, salt))
    row = await db.fetchone("SELECT value FROM meta WHERE key = ?", (_SALT_KEY,))
    return row["value"]


def service(ctx_or_app) -> AdviceService:  # noqa: ANN001
    app = getattr(ctx_or_app, "app", ctx_or_app)
    return app.state[STATE_KEY]


CommandName = Callable[[str], str]
_COMMAND_IN_BODY = re.compile(r"`/(advice(?: [a-z0-9-]+)*)`")


def entry_card(svc: AdviceService, entry: Entry, cmd: CommandName = Frontend().cmd) -> Card:
    """Entries are written once, naming commands as the console spells them ("`/advice topic x`");
    each front end shows its own spelling (``/careerbot advice topic x`` on Slack)."""
    sources = "; ".join(svc.source_title(s).split(" — ")[0] for s in entry.sources)
    topic_title = svc.topics.get(entry.topic, entry.topic)
    return Card(
        title=entry.title,
        body=_COMMAND_IN_BODY.sub(lambda m: f"`{cmd(m.group(1))}`", entry.body),
        footer=f"Topic: {topic_title} ({entry.topic}) · Based on: {sources}",
    )


def _show_button(entry: Entry) -> ActionButton:
    return ActionButton(f"Show: {entry.title}"[:80], "advice topic", {"name": entry.id})


def answer_reply(svc: AdviceService, answer: Answer, cmd: CommandName = Frontend().cmd, ask_id: str | None = None) -> Reply:
    """An answer card; an unsure answer as choices; a refusal with the nearest topics."""
    if answer.status == "refused" or not answer.matches:
        return no_advice_reply(svc, answer, cmd)
    if answer.status == "unsure":
        lines = [f"• {m.entry.title} — {cmd('advice topic ' + m.entry.id)}" for m in answer.matches]
        return Reply(
            text="I'm not sure which you mean — one of these?\n" + "\n".join(lines),
            cards=[Card(title="Pick the closest", buttons=[_show_button(m.entry) for m in answer.matches])],
        )
    matches = answer.matches
    card = entry_card(svc, matches[0].entry, cmd)
    if len(matches) > 1:
        card.fields.append(
            Field("See also", "\n".join(f"• {m.entry.title} — {cmd('advice topic ' + m.entry.id)}" for m in matches[1:]))
        )
        card.buttons = [_show_button(m.entry) for m in matches[1:]]
    if ask_id:
        card.buttons += [
            ActionButton("👍 Helpful", "advice vote", {"ask": ask_id, "vote": "up"}),
            ActionButton("👎 Not helpful", "advice vote", {"ask": ask_id, "vote": "down"}),
        ]
    return Reply(cards=[card])


def no_advice_reply(svc: AdviceService, answer: Answer | None = None, cmd: CommandName = Frontend().cmd) -> Reply:
    nearest = [t for t in (answer.nearest_topics if answer else []) if t in svc.topics][:3]
    text = "I don't have advice on that: I answer questions about ML internships, learning ML and the job hunt."
    if nearest:
        text += " The nearest topics I have: " + ", ".join(
            f"{svc.topics[t]} ({cmd('advice topic ' + t)})" for t in nearest
        ) + "."
    text += f" {cmd('advice topics')} lists everything."
    return Reply(text=text, kind="nomatch")


def how_to_ask(svc: AdviceService, cmd: CommandName) -> Reply:
    return Reply(cards=[Card(
        title="Ask me about getting an ML internship",
        body=(
            f"Type your question after {cmd('advice')}, the way you'd ask a friend:\n"
            f"• {cmd('advice do i need a phd')}\n"
            f"• {cmd('advice is kaggle worth it')}\n"
            f"• {cmd('advice where do i find remote internships')}\n"
            f"Browse instead: {cmd('advice topics')} lists the {len(svc.topic_names())} topics, and "
            f"{cmd('advice topic NAME')} shows one (part of a name is enough: {cmd('advice topic kaggle')})."
        ),
    )])


async def _complete_topic(ctx: Context, prefix: str) -> list[str]:
    svc = service(ctx)
    prefix = prefix.lower().strip()
    names = svc.topic_names() + sorted(svc.entries)
    starts = [n for n in names if n.startswith(prefix)]
    contains = [n for n in names if prefix in n and n not in starts]
    return (starts + contains)[:25]


def _voter(svc: AdviceService, ask_id: str, actor_id: str) -> str:
    return hashlib.sha256(f"{svc.salt}|{ask_id}|{actor_id}".encode()).hexdigest()[:32]


def register(registry: Registry) -> None:
    advice = registry.group("advice", help="Advice on getting a machine-learning internship.")

    @advice.command(
        "ask",
        help="Ask a question in your own words, e.g. do I need a PhD?",
        args=[Arg("question", "your question about ML internships", rest=True, required=False, max_len=MAX_QUESTION)],
        default=True,
    )
    async def ask(ctx: Context, question: str | None = None) -> Reply:
        svc = service(ctx)
        if not question or not question.strip():
            return how_to_ask(svc, ctx.cmd)
        answer = svc.search(question, limit=3, workspace_id=ctx.place.workspace_id)
        ask_id = secrets.token_urlsafe(9)
        first = answer.matches[0].entry.id if answer.matches and answer.status != "refused" else None
        await advice_repo.record_ask(
            ctx.db, ask_id, ctx.place.workspace_key, question.strip()[:MAX_QUESTION], question_key(question),
            answer.status, first, iso_utc(ctx.now()),
        )
        return answer_reply(svc, answer, ctx.cmd, ask_id=ask_id if answer.status == "answer" else None)

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
                    body=f"Show one with {ctx.cmd('advice topic NAME')} (part of a name is enough), "
                         f"or just ask: {ctx.cmd('advice YOUR QUESTION')}",
                    fields=fields,
                )
            ]
        )

    @advice.command(
        "topic",
        help="Show the advice on one topic or entry (part of its name is enough).",
        args=[Arg("name", "a topic name from the advice topics list", rest=True, max_len=80, complete=_complete_topic)],
    )
    async def topic(ctx: Context, name: str) -> Reply:
        svc = service(ctx)
        topic_hits, entry_hits = svc.find(name)
        if len(topic_hits) == 1 and not entry_hits:
            key = topic_hits[0]
            return Reply(text=f"{svc.topics.get(key, key)}:", cards=[entry_card(svc, e, ctx.cmd) for e in svc.by_topic(key)])
        if len(entry_hits) == 1 and not topic_hits:
            return Reply(cards=[entry_card(svc, svc.entries[entry_hits[0]], ctx.cmd)])
        candidates = (topic_hits + entry_hits)[:4]
        if candidates:
            hint = "Did you mean " + " or ".join(ctx.cmd(f"advice topic {c}") for c in candidates) + "?"
        else:
            hint = f"{ctx.cmd('advice topics')} lists them."
        raise CommandError(f"There is no advice topic {quote_input(name)}. {hint}")

    @advice.command(
        "vote",
        help="Rate an answer (the 👍/👎 buttons under an answer do this).",
        args=[
            Arg("ask", "the answer's id (set by the button)", max_len=40),
            Arg("vote", "up or down", choices=("up", "down")),
        ],
        ephemeral=True,
    )
    async def vote(ctx: Context, ask: str, vote: str) -> Reply:
        svc = service(ctx)
        row = await advice_repo.get_ask(ctx.db, ask)
        if not row or not row["entry_id"]:
            raise CommandError("That answer is too old to rate, or was never given. Thanks anyway!")
        value = 1 if vote == "up" else -1
        before = await advice_repo.vote(ctx.db, ask, _voter(svc, ask, ctx.actor.id), row["entry_id"], value, iso_utc(ctx.now()))
        if before == value:
            return Reply(text="You already rated this answer — thanks.", ephemeral=True)
        if value > 0:
            return Reply(text="Thanks — glad it helped. 👍", ephemeral=True)
        return Reply(
            text="Thanks — noted. Moderators see which answers miss, so the next entry gets written. "
                 f"Other topics: {ctx.cmd('advice topics')}",
            ephemeral=True,
        )

    @advice.command(
        "report",
        help="What students here asked that I could not answer, and which answers they voted down.",
        args=[Arg("days", "how many days back (default 30)", kind="int", required=False, min_value=1, max_value=365)],
        min_role=Role.MODERATOR,
        ephemeral=True,
    )
    async def report(ctx: Context, days: int | None = None) -> Reply:
        from commands.advice.report import build_report

        days = days or 30
        text = await build_report(ctx.db, service(ctx), ctx.now() - timedelta(days=days), ctx.place.workspace_key, days)
        return Reply(text=text, ephemeral=True)
