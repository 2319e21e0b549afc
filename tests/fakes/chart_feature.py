"""A test-only feature whose replies carry PNG files, for the Discord and Slack upload tests."""

from __future__ import annotations

from pathlib import Path

from bot.context import Context
from bot.models import Attachment, Reply
from bot.registry import Registry

PNG = (Path(__file__).resolve().parent.parent / "fixtures" / "attachments" / "chart.png").read_bytes()
ALT = "Bar chart of check-ins per day this week"


def chart(name: str = "chart.png") -> Attachment:
    return Attachment(name, PNG, "image/png", ALT)


class ChartFeature:
    """``/chart show|mine|many|slow``: files publicly, privately (named ``private_name``), twelve at once, deferred."""

    def __init__(self, private_name: str) -> None:
        self.private_name = private_name

    def register(self, registry: Registry) -> None:
        group = registry.group("chart", "Charts as PNG files")
        private_name = self.private_name

        @group.command("show", "This week's chart, for the channel")
        async def show(ctx: Context) -> Reply:
            return Reply(text="Check-ins this week", attachments=[chart()])

        @group.command("mine", "Your own chart, only for you", ephemeral=True)
        async def mine(ctx: Context) -> Reply:
            return Reply(text="Your check-ins", attachments=[chart(private_name)], ephemeral=True)

        @group.command("many", "Twelve charts at once")
        async def many(ctx: Context) -> Reply:
            return Reply(text="Every chart", attachments=[chart(f"chart-{n:02d}.png") for n in range(12)])

        @group.command("slow", "A chart that takes a while to draw", slow=True)
        async def slow(ctx: Context) -> Reply:
            return Reply(text="Drawn slowly", attachments=[chart("slow.png")])
