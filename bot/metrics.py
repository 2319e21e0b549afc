"""What `/metrics` reports, in the Prometheus text format (prometheus-client does the format).

Each App owns its registry, so several apps in one process (tests, benches) never share or
double-register series. Counters are bumped where things happen; the queue depth and the
scheduler's lag are read from the database when scraped, so they are right even right after
a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import CONTENT_TYPE_LATEST  # noqa: F401  (re-exported for the HTTP handler)
from prometheus_client.core import CounterMetricFamily, Metric

PostStats = Callable[[], Mapping[str, Mapping[str, int]]]  # platform -> {"sent", "failed", "retried", "rate_limited"}

COMMAND_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _PostsCollector:
    """Posts and 429s come from each platform sender's own counters, read at scrape time."""

    def __init__(self, stats: PostStats) -> None:
        self.stats = stats

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        posts = CounterMetricFamily("careerbot_posts", "Scheduled posts by platform and result", labels=["platform", "result"])
        limited = CounterMetricFamily("careerbot_rate_limited", "429 answers from a platform's API", labels=["platform"])
        for platform, stats in self.stats().items():
            for result, key in (("delivered", "sent"), ("failed", "failed"), ("retried", "retried")):
                posts.add_metric([platform, result], stats.get(key, 0))
            limited.add_metric([platform], stats.get("rate_limited", 0))
        yield posts
        yield limited


class Metrics:
    def __init__(self, post_stats: PostStats = dict) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.commands = Counter(
            "careerbot_commands", "Commands run, by command and outcome (info, error, refusal, ...)",
            ["command", "outcome"], registry=r,
        )
        self.command_seconds = Histogram(
            "careerbot_command_seconds", "Time to answer a command", ["command"], buckets=COMMAND_BUCKETS, registry=r,
        )
        r.register(_PostsCollector(post_stats))
        self.fetches = Counter("careerbot_source_fetches", "Feed fetches by source and status", ["source", "status"], registry=r)
        self.scheduler_lag = Gauge(
            "careerbot_scheduler_lag_seconds", "How late the most overdue scheduled job is (0: nothing overdue)", registry=r,
        )
        self.claim_seconds = Histogram(
            "careerbot_post_claim_seconds", "Time to claim the next post from the shared queue", ["platform"],
            buckets=(0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 1.0), registry=r,
        )
        self.roles_held = Gauge("careerbot_role_held", "1 while this process holds the singleton role", ["role"], registry=r)
        self.queue_depth = Gauge("careerbot_queue_depth", "Posts waiting to be sent, by platform", ["platform"], registry=r)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
