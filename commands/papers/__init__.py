"""/paper and /papers: a paper of the day per channel, paper search and look-up, and what a channel follows.

Every command answers from the local store (filled in the background by ``PapersService``).
Only a search with too few local results, or a look-up of an id we have never seen, asks
arXiv — and even then the reply comes within the platform deadline, the fetch carrying on
in the background when arXiv's 3-second spacing or a slow answer would make it late.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.clock import iso_utc
from bot.context import Context
from bot.models import Card, Field, LinkButton, Place, Reply, Role
from bot.providers import Period, Section
from bot.registry import Arg, CommandError, Registry
from bot.settings import ItemList, Key, SettingError
from bot.storage import papers_repo, sources_repo
from bot.storage.papers_repo import StoredPaper
from bot.storage.sources_repo import Source
from bot.text import quote_input, shorten
from commands.papers import pick as picking
from commands.papers.service import PapersService
from feeds.papers import parse_arxiv_id

if TYPE_CHECKING:
    from bot.app import App

STATE_KEY = "papers"
DEADLINE = 2.0  # seconds a command may wait on arXiv; platforms allow 3
MIN_LOCAL_RESULTS = 3
SEARCH_RESULTS = 5
TRENDING = 3

_ARCHIVES_UPPER = {"cs", "math", "stat", "eess", "econ", "q-bio", "q-fin"}
_ARCHIVES = _ARCHIVES_UPPER | {
    "astro-ph", "cond-mat", "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math-ph", "nlin", "nucl-ex",
    "nucl-th", "physics", "quant-ph",
}
_CATEGORY = re.compile(r"^([a-z\-]+)(?:\.([A-Za-z\-]{2,}))?$", re.IGNORECASE)


def normalize_category(text: str) -> str:
    """``cs.lg`` → ``cs.LG``; refuses what is not an arXiv category, naming examples."""
    m = _CATEGORY.match(text.strip())
    archive = m.group(1).lower() if m else ""
    if not m or archive not in _ARCHIVES:
        raise SettingError(f"{quote_input(text, 30)} is not an arXiv category; use names like cs.LG, cs.CL, stat.ML or quant-ph")
    sub = m.group(2)
    if sub is None:
        return archive
    return f"{archive}.{sub.upper() if archive in _ARCHIVES_UPPER else sub.lower()}"


class Categories(ItemList):
    def _items(self, tokens):  # noqa: ANN001, ANN202 - same contract as ItemList
        items = super()._items(tokens)
        return items if items in ([], ["all"]) else list(dict.fromkeys(normalize_category(t) for t in items))


def service(ctx_or_app: Any) -> PapersService:
    app = getattr(ctx_or_app, "app", ctx_or_app)
    return app.state[STATE_KEY]


# -- presenting ------------------------------------------------------------------------------------
def short_authors(authors: list[str]) -> str:
    if not authors:
        return "unknown authors"
    if len(authors) <= 3:
        return ", ".join(authors)
    return f"{', '.join(authors[:3])} et al. ({len(authors)} authors)"


def summary(paper: StoredPaper) -> str:
    """Hugging Face's AI summary when present, else the abstract's first two or three sentences."""
    if paper.ai_summary:
        return shorten(paper.ai_summary, 500)
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z])", paper.abstract)
    text = ""
    for sentence in sentences[:3]:
        if text and len(text) + len(sentence) > 450:
            break
        text = f"{text} {sentence}".strip()
    return shorten(text or paper.abstract, 500) or "No abstract available."


def paper_card(paper: StoredPaper, why: str | None = None) -> Card:
    fields = [Field("Authors", short_authors(paper.authors))]
    if paper.categories:
        fields.append(Field("Categories", ", ".join(paper.categories[:6]), inline=True))
    if paper.published:
        fields.append(Field("Published", paper.published[:10], inline=True))
    signals = []
    if paper.upvotes is not None:
        signals.append(f"{paper.upvotes} upvotes on Hugging Face")
    if paper.stars is not None and paper.code_url:
        signals.append(f"{paper.stars} GitHub stars")
    if signals:
        fields.append(Field("Signal", ", ".join(signals), inline=True))
    if paper.code_official and paper.code_url:
        fields.append(Field("Official code", paper.code_url + (f" ({paper.framework})" if paper.framework else ""), inline=True))
    buttons = [LinkButton("arXiv", paper.abs_url), LinkButton("PDF", paper.pdf_url)]
    if paper.code_url:
        buttons.append(LinkButton("Official code" if paper.code_official else "Code", paper.code_url))
    return Card(
        title=shorten(paper.title, 250),
        url=paper.abs_url,
        body=summary(paper),
        fields=fields,
        buttons=buttons,
        footer=(f"Why this paper: {why}" if why else f"arXiv:{paper.arxiv_id}" + (f"v{paper.version}" if paper.version else "")),
    )


def _when(stamp: str | None) -> str:
    return stamp[:16].replace("T", " ") + " UTC" if stamp else "never"


def source_line(s: Source) -> str:
    if s.status == "ok":
        return f"{s.name}: ok, last success {_when(s.last_success)} ({s.items_last or 0} items)"
    if s.status == "never":
        return f"{s.name}: not fetched yet"
    state = "unreachable" if s.status == "unhealthy" else "failing"
    return (
        f"{s.name}: {state} since {_when(s.failing_since)} ({s.failures} failure{'s' if s.failures != 1 else ''}; "
        f"last error: {shorten(s.last_error or '', 100)}); "
        f"last success {_when(s.last_success)}"
    )


async def offline_reply(ctx: Context, what: str) -> Reply:  # noqa: D103
    sources = await sources_repo.all_sources(ctx.db, "papers")
    if await papers_repo.count(ctx.db) == 0:
        lines = ["No papers fetched yet."]
    else:
        lines = [what]
    if sources:
        lines += [source_line(s) for s in sources]
    else:
        lines.append("No source has been polled yet; the bot fetches in the background, or a moderator can run `careerbot feeds refresh`.")
    return Reply(text="\n".join(lines))


# -- the day's pick --------------------------------------------------------------------------------
async def local_day(app: "App", place: Place, moment: datetime) -> str:
    zone = await app.settings.zone(place)
    return moment.astimezone(zone).date().isoformat()


async def todays_pick(app: "App", place: Place, moment: datetime) -> tuple[StoredPaper, str] | None:
    """The channel's paper for its local day, chosen once and then the same for everyone."""
    day = await local_day(app, place, moment)
    memo = service(app).picks
    remembered = memo.get((place.workspace_key, place.channel_id, day))
    if remembered is not None:
        return remembered
    existing = await papers_repo.pick_for(app.db, place.workspace_key, place.channel_id, day)
    if existing is None:
        categories = await app.settings.get(place, "paper_categories")
        keywords = await app.settings.get(place, "paper_keywords")
        if not categories:
            return None
        exclude = await papers_repo.picked_ids(app.db, place.workspace_key, place.channel_id)
        choice = await picking.choose(app.db, categories, keywords, datetime.fromisoformat(day).date(), exclude)
        if choice is None:
            return None
        await papers_repo.record_pick(
            app.db, place.workspace_key, place.channel_id, day, choice.paper.arxiv_id, choice.reason, iso_utc(moment)
        )
        existing = await papers_repo.pick_for(app.db, place.workspace_key, place.channel_id, day)
        assert existing is not None
    paper = await papers_repo.get(app.db, existing[0])
    if paper is None:
        return None
    if len(memo) > 10_000:
        memo.clear()
    memo[(place.workspace_key, place.channel_id, day)] = (paper, existing[1])
    return paper, existing[1]


class PapersProvider:
    """Digest section: the channel's paper of the day, then the top trending in its categories."""

    name = "papers"
    title = "Paper of the day"
    help = "the channel's paper of the day and the top trending papers in its categories"

    async def collect(self, app: "App", place: Place, period: Period, settings: dict[str, Any]) -> Section | None:
        chosen = await todays_pick(app, place, period.end)
        cards: list[Card] = []
        keys: list[str] = []
        if chosen:
            cards.append(paper_card(chosen[0], chosen[1]))
            keys.append(chosen[0].arxiv_id)
        categories = settings.get("paper_categories") or []
        day = await local_day(app, place, period.end)
        since = (datetime.fromisoformat(day).date() - timedelta(days=2)).isoformat()
        trending = await papers_repo.candidates(app.db, categories, since, set(keys), hf_only=True)
        trending.sort(key=lambda p: (p.upvotes or 0, p.arxiv_id), reverse=True)
        if trending[:TRENDING]:
            lines = [f"{p.title} — {p.upvotes or 0} upvotes · {p.abs_url}" for p in trending[:TRENDING]]
            cards.append(Card(title="Trending", body="\n".join(f"• {shorten(line, 300)}" for line in lines)))
        if not cards:
            return None
        return Section(self.title, cards, item_keys=keys)


# -- wiring ----------------------------------------------------------------------------------------
async def _source_notices(ctx: Context) -> list[str]:
    """Tells a moderator once per incident that a paper source is down (if the server uses papers)."""
    if not service(ctx).unhealthy or not await ctx.app.settings.workspace_uses(ctx.place.workspace_key, "paper_categories"):
        return []
    incidents = await sources_repo.unnoticed_incidents(ctx.db, ctx.place.workspace_key, "papers", linked_only=False)
    if not incidents:
        return []
    await sources_repo.mark_noticed(ctx.db, ctx.place.workspace_key, incidents)
    return ["Papers: " + source_line(s) + f". {ctx.cmd('papers sources')} shows all sources." for s in incidents]


async def setup(app: "App") -> None:
    app.settings.define(Key(
        "paper_categories", "arXiv categories this channel's paper of the day comes from (e.g. cs.LG, cs.CL)",
        Categories(item_help="arXiv categories such as cs.LG", max_items=20), [],
    ))
    app.settings.define(Key(
        "paper_keywords", "words that make a paper more likely to be picked (title or abstract)",
        ItemList(item_help="keywords", max_items=20), [],
    ))
    svc = PapersService(app)
    await svc.poller.load()
    await svc.add_sources()
    app.state[STATE_KEY] = svc
    app.services.append(svc)
    app.providers.add(PapersProvider(), aliases=("paper", "arxiv"))
    app.notice_sources.append(_source_notices)


def is_category(word: str) -> bool:
    """Whether a word ending a search is an arXiv category (``cs.CL``) rather than a search word."""
    if not ("." in word or word.lower() in _ARCHIVES):
        return False
    try:
        normalize_category(word)
    except SettingError:
        return False
    return True


def register(registry: Registry) -> None:
    paper = registry.group("paper", "Papers: today's pick for this channel, search, and look-up by arXiv id.")

    @paper.command("today", "This channel's paper of the day (the same for everyone all day).", dm_ok=False)
    async def today(ctx: Context) -> Reply:
        categories = await ctx.app.settings.get(ctx.place, "paper_categories")
        if not categories:
            return Reply(text=f"{ctx.place.label} follows no arXiv categories yet. A moderator can choose some: {ctx.cmd('papers follow cs.LG cs.CL')}")
        chosen = await todays_pick(ctx.app, ctx.place, ctx.now())
        if chosen is None:
            return await offline_reply(ctx, f"No paper to pick in {', '.join(categories)} from the last few days yet.")
        return Reply(text=f"Paper of the day for {ctx.place.label}:", cards=[paper_card(*chosen)])

    @paper.command(
        "search",
        "Find papers on a topic (local first, then arXiv). End with a category to narrow it, e.g. cs.CL.",
        args=[
            Arg("query", "words to look for", rest=True, max_len=200),
            Arg("category", "an arXiv category to narrow it, e.g. cs.CL", required=False, max_len=40,
                matches=is_category, normalize=normalize_category),
        ],
        slow=True,
    )
    async def search(ctx: Context, query: str, category: str | None = None) -> Reply:
        text = query
        if papers_repo.fts_query(text) is None:
            raise CommandError(f"Give some words to search for, e.g. {ctx.cmd('paper search diffusion transformers cs.CV')}")
        found = await papers_repo.search(ctx.db, text, category, SEARCH_RESULTS)
        note = ""
        if len(found) < MIN_LOCAL_RESULTS:
            svc = service(ctx)
            finished, error = await svc.fetch_in_background(svc.api_search_url(text, category), DEADLINE)
            if finished and not error:
                found = await papers_repo.search(ctx.db, text, category, SEARCH_RESULTS)
            elif error:
                note = f"(arXiv search failed: {shorten(error, 80)}; showing what is stored.)"
            else:
                note = "(Still asking arXiv; ask again in a minute for more.)"
        if not found:
            return Reply(text=f"No papers found for {quote_input(text)}{' in ' + category if category else ''}. {note}".strip(), kind="nomatch")
        lines = [
            f"• **{shorten(p.title, 150)}** — {short_authors(p.authors)} ({(p.published or '')[:4] or 'n.d.'}) · {ctx.cmd('paper ' + p.arxiv_id)}"
            for p in found
        ]
        return Reply(text="\n".join([f"Papers for {quote_input(text)}{' in ' + category if category else ''}:", *lines] + ([note] if note else [])))

    @paper.command(
        "show",
        "Details of one paper, by arXiv id or URL, e.g. 2401.01234",
        args=[Arg("id", "an arXiv id or URL", max_len=200)],
        default=True,
        slow=True,
    )
    async def show(ctx: Context, id: str) -> Reply:  # noqa: A002
        parsed = parse_arxiv_id(id)
        if parsed is None:
            raise CommandError(
                f"{quote_input(id)} is not an arXiv id. Use {ctx.cmd('paper 2401.01234')}, "
                f"{ctx.cmd('paper https://arxiv.org/abs/2401.01234')}, {ctx.cmd('paper today')} or {ctx.cmd('paper search WORDS')}."
            )
        arxiv_id = parsed[0]
        found = await papers_repo.get(ctx.db, arxiv_id)
        if found is None:
            svc = service(ctx)
            finished, error = await svc.fetch_in_background(svc.api_ids_url([arxiv_id]), DEADLINE)
            found = await papers_repo.get(ctx.db, arxiv_id) if finished else None
            if found is None:
                why = f"arXiv could not be asked: {shorten(error, 80)}" if error else (
                    "arXiv has no such paper" if finished else "still asking arXiv; try again in a minute")
                return Reply(text=f"I don't have arXiv:{arxiv_id} ({why}).", kind="nomatch")
        return Reply(cards=[paper_card(found)])

    papers = registry.group("papers", "Moderators: what this channel's papers come from.", min_role=Role.MODERATOR, dm_ok=False)
    cats_arg = Arg("categories", "arXiv categories, e.g. cs.LG cs.CL", rest=True, max_len=300, required=False)

    async def _change(ctx: Context, key: str, items: list[str]) -> str:
        text = ", ".join(items) if items else "none"
        try:
            change = await ctx.app.settings.set(ctx.actor, ctx.place.workspace_key, ctx.place.channel_id, key, text, ctx.now())
        except SettingError as exc:
            raise CommandError(f"Nothing changed: {exc}.") from None
        return change.new or "none"

    def _categories(raw: str) -> list[str]:
        try:
            return [normalize_category(t) for t in re.split(r"[,\s]+", raw.strip()) if t]
        except SettingError as exc:
            raise CommandError(f"Nothing changed: {exc}.") from None

    @papers.command("follow", "Add arXiv categories this channel's papers come from (no argument: show them).", args=[cats_arg])
    async def follow(ctx: Context, categories: str | None = None) -> Reply:
        current = list(await ctx.app.settings.get(ctx.place, "paper_categories"))
        keywords = await ctx.app.settings.get(ctx.place, "paper_keywords")
        if not categories:
            return Reply(text=f"{ctx.place.label} follows {', '.join(current) or 'no categories'}; keywords: {', '.join(keywords) or 'none'}.")
        wanted = current + [c for c in _categories(categories) if c not in current]
        result = await _change(ctx, "paper_categories", wanted)
        return Reply(text=f"{ctx.place.label} now follows {result}. New papers arrive with the next refresh; {ctx.cmd('paper today')} picks from them.")

    async def _complete_followed(ctx: Context, prefix: str) -> list[str]:
        followed = await ctx.app.settings.get(ctx.place, "paper_categories")
        return [c for c in followed if c.lower().startswith(prefix.strip().lower())][:25]

    @papers.command(
        "unfollow", "Stop following arXiv categories in this channel.",
        args=[Arg("categories", "arXiv categories", rest=True, max_len=300, complete=_complete_followed)],
    )
    async def unfollow(ctx: Context, categories: str) -> Reply:
        current = list(await ctx.app.settings.get(ctx.place, "paper_categories"))
        drop = _categories(categories)
        missing = [c for c in drop if c not in current]
        if missing:
            raise CommandError(f"{ctx.place.label} does not follow {', '.join(missing)}; it follows {', '.join(current) or 'nothing'}.")
        result = await _change(ctx, "paper_categories", [c for c in current if c not in drop])
        return Reply(text=f"{ctx.place.label} now follows {result}.")

    @papers.command(
        "keywords",
        "Keywords that make a paper more likely to be picked: add WORDS, remove WORDS, or clear.",
        args=[
            Arg("action", "add, remove or clear", choices=("add", "remove", "clear")),
            Arg("words", "keywords", rest=True, max_len=300, required=False),
        ],
    )
    async def keywords(ctx: Context, action: str, words: str | None = None) -> Reply:
        current = list(await ctx.app.settings.get(ctx.place, "paper_keywords"))
        given = [w.lower() for w in re.split(r"[,\s]+", (words or "").strip()) if w]
        if action != "clear" and not given:
            raise CommandError(f"{ctx.cmd('papers keywords ' + action)} needs words, e.g. {ctx.cmd(f'papers keywords {action} diffusion')}")
        if action == "add":
            new = current + [w for w in given if w not in current]
        elif action == "remove":
            new = [w for w in current if w not in given]
        else:
            new = []
        result = await _change(ctx, "paper_keywords", new)
        return Reply(text=f"Keywords for {ctx.place.label}: {result}.")

    @papers.command("sources", "Where papers come from and whether each source is healthy.")
    async def sources(ctx: Context) -> Reply:
        rows = await sources_repo.all_sources(ctx.db, "papers")
        body = "\n".join(source_line(s) for s in rows) or "No source has been polled yet."
        stored = await papers_repo.count(ctx.db)
        return Reply(cards=[Card(title="Paper sources", body=body, footer=f"{stored:,} papers stored.")])
