"""Papers With Code: which repository is a paper's official code, and in which framework.

No real payload from the relaunched API was captured, so the fixtures are hand-built; the first
tests prove they have the shape the real ``paperswithcode-client`` reads, by parsing them with
its own models and by running its own client against them over loopback HTTP. The rest parse the
same bytes with ``feeds.pwc`` and fetch them through the project's Fetcher, following ``next``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import warnings
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from feeds.fetch import Fetcher, FetchError
from feeds.papers import FeedError
from feeds.pwc import (
    BASE_URL,
    PwcPage,
    PwcPaper,
    PwcRepo,
    best_code,
    framework_label,
    match_paper,
    next_page_url,
    parse_papers_page,
    parse_repositories_page,
    repositories_url,
    search_url,
)
from tests.fakes.feed_server import FeedServer

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pwc"
JSON_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.json"))
SLUG = "lora-low-rank-adaptation-of-large-language"
REPOS_PATH = f"/api/v1/papers/{SLUG}/repositories/"
INSTALL_HINT = (
    "paperswithcode-client is not installed; its pins (rich~=9.11 -> typing-extensions<4) clash with "
    "aiohttp/pytest-asyncio, so install it without them: pip install --no-deps paperswithcode-client==0.3.1 "
    "tea-client==0.0.7 tea-console==0.0.6 tea==0.1.4 rich==9.11.1 (the rest come from the test extras)"
)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# --- the fixtures have the shape the real client reads ------------------------------------


@pytest.fixture(scope="module")
def pwc(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The real package. Importing it writes ~/.paperswithcode/paperswithcode.ini, so HOME is a temp dir.

    The client was written for pydantic 1 (``from pydantic import BaseModel, validator``); the
    project installs pydantic 2 (wordllama needs it), which ships pydantic 1 as ``pydantic.v1``.
    While the client is imported, ``pydantic`` names that copy, so its models are pydantic 1 models.
    """
    import pydantic

    v1 = importlib.import_module("pydantic.v1") if pydantic.VERSION.startswith("2.") else pydantic
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        mp.setenv("HOME", str(tmp_path_factory.mktemp("home")))
        mp.setitem(sys.modules, "pydantic", v1)
        warnings.simplefilter("ignore", DeprecationWarning)  # httpx 0.14 imports cgi
        try:
            import paperswithcode
            import paperswithcode.models
        except ImportError as exc:
            pytest.fail(f"{INSTALL_HINT} ({exc})")
    return paperswithcode


def client_page(pwc: ModuleType, data: dict[str, Any], model: type) -> Any:
    """The client's own page builder (reads ``next``/``previous`` URLs into page numbers)."""
    return pwc.PapersWithCodeClient._PapersWithCodeClient__page(data, model)


@pytest.mark.parametrize("name", JSON_FIXTURES)
def test_every_fixture_parses_with_the_clients_own_models(pwc: ModuleType, name: str) -> None:
    from paperswithcode.models import Paper, Papers, Repositories, Repository

    data = json.loads(fixture(name))
    model, item = (Papers, Paper) if name.startswith("papers_") else (Repositories, Repository)
    page = client_page(pwc, data, model)
    assert isinstance(page, model) and page.count == data["count"]
    assert [type(r) for r in page.results] == [item] * len(data["results"])
    for raw in data["results"]:  # pydantic 1 ignores extra keys and defaults missing Optionals: check both
        assert set(raw) == set(item.__fields__), f"{name}: fields differ from {item.__name__}"
    if name == "repositories_lora_page1.json":
        assert (page.next_page, page.previous_page) == (2, None)
    if name == "repositories_lora_page2.json":
        assert (page.next_page, page.previous_page) == (None, 1)
    if name == "papers_arxiv_2106.09685.json":
        assert page.results[0].published == date(2021, 6, 17)


def rebased(name: str, base: str) -> bytes:
    """A server writes its own host into ``next``: the local one, here."""
    return fixture(name).replace(BASE_URL.encode(), f"{base}/api/v1".encode())


def serve_pwc(server: FeedServer) -> str:
    """The API's routes on the local server; any arXiv id but LoRA's is unknown (count 0)."""
    base = server.base_url
    lora = rebased("papers_arxiv_2106.09685.json", base)
    page1, page2 = rebased("repositories_lora_page1.json", base), rebased("repositories_lora_page2.json", base)
    server.routes.update({
        "/api/v1/papers/": rebased("papers_arxiv_unknown.json", base),
        "/api/v1/papers/?arxiv_id=2106.09685": lora,
        "/api/v1/papers/?page=1&items_per_page=50&arxiv_id=2106.09685": lora,  # how the client asks
        REPOS_PATH: page1,
        REPOS_PATH + "?page=2": page2,
        REPOS_PATH + "?page=2&items_per_page=50": page2,
    })
    return f"{base}/api/v1"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # httpx 0.14's ssl setup, 2020 code
async def test_the_real_client_reads_the_fixtures_over_http(pwc: ModuleType, server: FeedServer) -> None:
    serve_pwc(server)
    client = pwc.PapersWithCodeClient(url=server.base_url)
    papers = await asyncio.to_thread(client.paper_list, arxiv_id="2106.09685")
    assert [p.id for p in papers.results] == [SLUG]
    first = await asyncio.to_thread(client.paper_repository_list, SLUG)
    second = await asyncio.to_thread(client.paper_repository_list, SLUG, page=first.next_page)
    assert (first.next_page, second.next_page, second.previous_page) == (2, None, 1)
    repos = first.results + second.results
    assert len(repos) == first.count == 7
    assert [(r.owner, r.name) for r in repos if r.is_official] == [("microsoft", "LoRA")]
    asked = [h["query"] for h in server.hits(REPOS_PATH)]
    assert asked == [{"page": "1", "items_per_page": "50"}, {"page": "2", "items_per_page": "50"}]


# --- what feeds.pwc makes of the same bytes -------------------------------------------------


def test_urls_quote_their_parts_and_drop_the_arxiv_version() -> None:
    assert search_url(BASE_URL, "2106.09685") == "https://paperswithcode.co/api/v1/papers/?arxiv_id=2106.09685"
    assert search_url(BASE_URL + "/", "arXiv:2106.09685v2") == search_url(BASE_URL, "2106.09685")
    assert search_url(BASE_URL, "hep-th/9901001v1").endswith("?arxiv_id=hep-th%2F9901001")
    assert search_url(BASE_URL, "x&page=9").endswith("?arxiv_id=x%26page%3D9")
    assert repositories_url(BASE_URL + "/", SLUG) == f"https://paperswithcode.co{REPOS_PATH}"
    assert repositories_url(BASE_URL, "a/../b?c") == "https://paperswithcode.co/api/v1/papers/a%2F..%2Fb%3Fc/repositories/"


def test_a_search_page_gives_the_paper_and_its_slug() -> None:
    page = parse_papers_page(fixture("papers_arxiv_2106.09685.json"))
    assert (page.count, page.next, page.errors) == (1, None, [])
    paper = match_paper(page, "2106.09685v2")  # the version we store does not matter
    assert paper == PwcPaper(
        id=SLUG,
        arxiv_id="2106.09685",
        title="LoRA: Low-Rank Adaptation of Large Language Models",
        url_abs="https://arxiv.org/abs/2106.09685v2",
        proceeding="iclr-2022-4",
        published=date(2021, 6, 17),
    )


def test_an_unknown_id_gives_no_paper() -> None:
    page = parse_papers_page(fixture("papers_arxiv_unknown.json"))
    assert (page.count, page.results, page.errors) == (0, [], [])
    assert match_paper(page, "2604.99999") is None


def test_match_paper_never_takes_the_first_result_blindly() -> None:
    page = parse_papers_page(fixture("papers_mixed_first_is_other.json"))
    assert page.results[0].arxiv_id == "2402.12354"
    assert match_paper(page, "2106.09685").id == SLUG
    assert match_paper(page, "arXiv:2402.12354v3").title.startswith("LoRA+")
    assert match_paper(page, "2106.09686") is None
    only_other = PwcPage(count=1, next=None, results=page.results[:1])
    assert match_paper(only_other, "2106.09685") is None


def test_the_official_repo_wins_over_more_starred_reimplementations() -> None:
    page = parse_repositories_page(fixture("repositories_lora_page1.json"))
    assert (page.count, len(page.results), page.errors) == (7, 5, [])
    assert page.next == f"https://paperswithcode.co{REPOS_PATH}?page=2"
    top = max(page.results, key=lambda r: r.stars)
    assert (top.owner, top.is_official) == ("huggingface", False)
    code = best_code(page.results)
    assert code == PwcRepo("https://github.com/microsoft/LoRA", "microsoft", "LoRA", 10412, "pytorch", True)
    assert framework_label(code.framework) == "PyTorch"
    assert [framework_label(r.framework) for r in page.results] == ["PyTorch", "PyTorch", "PyTorch", "TensorFlow", "JAX"]
    assert [r.framework for r in page.results] == ["pytorch", "pytorch", "pytorch", "tf", "jax"]


def test_no_official_repo_means_no_code() -> None:
    unofficial = parse_repositories_page(fixture("repositories_lora_page2.json")).results
    assert len(unofficial) == 2 and best_code(unofficial) is None
    assert best_code([]) is None
    two = [PwcRepo("https://a.example/x", "a", "x", 5, "tf", True), PwcRepo("https://b.example/y", "b", "y", 9, "jax", True)]
    assert best_code(two).owner == "b"


@pytest.mark.parametrize(
    ("raw", "label"),
    [("pytorch", "PyTorch"), ("tf", "TensorFlow"), ("jax", "JAX"), ("mxnet", "MXNet"), ("paddle", "PaddlePaddle"),
     ("PyTorch", "PyTorch"), ("none", None), ("", None), ("  ", None), ("caffe2", "caffe2"),
     ("torch\x1b[31m  lightning", "torch[31m lightning"), ("x" * 80, "x" * 30)],
)
def test_framework_labels(raw: str, label: str | None) -> None:
    assert framework_label(raw) == label


def test_next_links_must_stay_on_the_api_host() -> None:
    def page(link: str | None) -> PwcPage:
        return PwcPage(count=9, next=link)

    assert next_page_url(BASE_URL, page(None)) is None
    assert next_page_url(BASE_URL, page("https://evil.example/api/v1/papers/?page=2")) is None
    plain_http = f"http://paperswithcode.co{REPOS_PATH}?page=2"
    assert next_page_url(BASE_URL, page(plain_http)) == "https" + plain_http[4:]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (fixture("error_page.html"), "got an HTML page, not a Papers With Code API response"),
        (b"", "the response is empty"),
        (b'{"count": 1, "results": [', "the response is not valid JSON"),
        (b"\xff\xfe{}", "the response is not valid JSON"),
        (b"[]", "expected a JSON object with 'results', got a list"),
        (b'{"detail": "Not found."}', "no 'results': not a Papers With Code page (the API said: Not found.)"),
        (b'{"count": 1, "results": {"id": "x"}}', "'results' is a dict, not a list"),
        (b'{"results": []' + b" " * 5 * 1024 * 1024 + b"}", "the response is 5.2 MB; Papers With Code pages over 5 MB are refused"),
    ],
)
def test_a_body_that_is_not_a_page_is_refused_with_a_reason(body: bytes, reason: str) -> None:
    for parse in (parse_papers_page, parse_repositories_page):
        with pytest.raises(FeedError) as info:
            parse(body)
        assert reason in str(info.value) and "\n" not in str(info.value)


def test_bad_repository_entries_are_skipped_with_a_line_each() -> None:
    def repo(**changes: Any) -> dict[str, Any]:
        base = {"url": "https://github.com/o/n", "owner": "o", "name": "n", "description": "", "stars": 1, "framework": "pytorch"}
        return base | {"is_official": False} | changes

    body = json.dumps({
        "count": "many",
        "next": "javascript:alert(1)",
        "previous": None,
        "results": [
            "https://github.com/o/n",
            repo(url=None),
            repo(url="javascript:alert(1)"),
            repo(url="ftp://example.org/code.tar"),
            repo(is_official="yes"),
            repo(owner=42),
            repo(name="twelve", stars="12", is_official=True),
            repo(name="lots", stars="lots"),
            repo(name="negative", stars=-5),
            repo(name="boolean", stars=True, framework=None, is_official=None),
            repo(name="hostile", is_official=["x" * 500]),
            repo(name="caffe", framework=" Caffe2\n"),
        ],
    }).encode()
    page = parse_repositories_page(body)
    assert [(r.name, r.stars, r.framework, r.is_official) for r in page.results] == [
        ("twelve", 12, "pytorch", True),
        ("lots", 0, "pytorch", False),
        ("negative", 0, "pytorch", False),
        ("boolean", 0, "none", False),
        ("caffe", 1, "Caffe2", False),
    ]
    assert page.errors == [
        "result 1: a str, not an object",
        "result 2: url is missing",
        "result 3: url 'javascript:alert(1)' is not http(s)",
        "result 4: url 'ftp://example.org/code.tar' is not http(s)",
        "result 5: is_official is 'yes', not true/false",
        "result 6: owner is a int, not a string",
        "result 11: is_official is ['xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx, not true/false",
        "count 'many' is not a number; using 12",
        "next 'javascript:alert(1)' is not an http(s) URL; stopping here",
    ]
    assert page.count == 12 and page.next is None
    assert best_code(page.results).name == "twelve"
    assert framework_label(page.results[-1].framework) == "Caffe2"


def test_bad_paper_entries_are_skipped_with_a_line_each() -> None:
    good = json.loads(fixture("papers_arxiv_2106.09685.json"))["results"][0]
    body = json.dumps({
        "count": 6,
        "next": None,
        "previous": None,
        "results": [
            good | {"id": None},
            good | {"title": ["LoRA"]},
            good | {"id": "  "},
            good | {"published": "June 2021", "arxiv_id": None},
            good | {"id": "feb-30", "published": "2021-02-30"},
            good | {"id": "with-time", "published": "2021-06-17T00:00:00Z"},
        ],
    }).encode()
    page = parse_papers_page(body)
    assert page.errors == ["result 1: id is missing", "result 2: title is a list, not a string", "result 3: id is empty"]
    got = [(p.id, p.arxiv_id, p.published) for p in page.results]
    assert got == [(SLUG, None, None), ("feb-30", "2106.09685", None), ("with-time", "2106.09685", date(2021, 6, 17))]
    assert match_paper(page, "2106.09685").id == "feb-30"
    assert match_paper(PwcPage(1, None, page.results[:1]), "2106.09685") is None  # no arXiv id, right title: no match


# --- end to end: the project's Fetcher against the fixtures over loopback HTTP --------------


async def find_code(fetcher: Fetcher, base: str, arxiv_id: str, max_pages: int = 10) -> tuple[PwcPaper | None, list[PwcRepo]]:
    """What the refresher will do: search, match, then read every repositories page via ``next``."""
    paper = match_paper(parse_papers_page((await fetcher.get(search_url(base, arxiv_id))).body), arxiv_id)
    if paper is None:
        return None, []
    url: str | None = repositories_url(base, paper.id)
    repos: list[PwcRepo] = []
    for _ in range(max_pages):
        if url is None:
            break
        page = parse_repositories_page((await fetcher.get(url)).body)
        repos += page.results
        url = next_page_url(base, page)
    return paper, repos


@pytest.fixture
async def fetcher():
    f = Fetcher(timeout=5.0)
    yield f
    await f.close()


async def test_fetching_follows_next_until_exhausted(server: FeedServer, fetcher: Fetcher) -> None:
    base = serve_pwc(server)
    paper, repos = await find_code(fetcher, base, "2106.09685v2")
    assert paper is not None and paper.title == "LoRA: Low-Rank Adaptation of Large Language Models"
    assert len(repos) == 7 and len({r.url for r in repos}) == 7
    code = best_code(repos)
    assert (code.url, framework_label(code.framework)) == ("https://github.com/microsoft/LoRA", "PyTorch")
    assert [h["query"] for h in server.hits("/api/v1/papers/")] == [{"arxiv_id": "2106.09685"}]
    assert [h["query"] for h in server.hits(REPOS_PATH)] == [{}, {"page": "2"}]
    assert all(h["user_agent"].startswith("careerbot/") for h in server.requests)


async def test_an_unknown_paper_costs_one_request(server: FeedServer, fetcher: Fetcher) -> None:
    base = serve_pwc(server)
    assert await find_code(fetcher, base, "2604.99999") == (None, [])
    assert len(server.requests) == 1


async def test_an_outage_is_a_fetch_error_or_a_feed_error(server: FeedServer, fetcher: Fetcher) -> None:
    base = serve_pwc(server)
    server.fail["/api/v1/papers/"] = [(503, {"Retry-After": "30"})]
    with pytest.raises(FetchError) as info:
        await find_code(fetcher, base, "2106.09685")
    assert (info.value.status, info.value.retry_after, info.value.transient) == (503, 30.0, True)
    server.routes[REPOS_PATH] = fixture("error_page.html")  # a proxy's page answered with 200
    with pytest.raises(FeedError, match="got an HTML page"):
        await find_code(fetcher, base, "2106.09685")


async def test_a_next_link_to_another_host_is_not_followed(server: FeedServer, fetcher: Fetcher) -> None:
    base = serve_pwc(server)
    server.routes[REPOS_PATH] = fixture("repositories_lora_page1.json")  # not rebased: next points at paperswithcode.co
    paper, repos = await find_code(fetcher, base, "2106.09685")
    assert paper is not None and len(repos) == 5
    assert len(server.requests) == 2  # and nothing went to the internet
