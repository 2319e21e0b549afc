"""A GitHub-style contribution heatmap of study check-ins, drawn as a PNG.

Chat platforms show a picture far better than a wall of emoji squares, and a grid of weeks
(Monday at the top, the current week on the right) is the shape everyone already reads from
GitHub. Everything is laid out in whole pixels on a canvas of fixed size (``CHART_SIZE``), so
``cell_center`` can say exactly where a day landed without rendering anything: tests sample
those pixels, and nothing depends on how matplotlib happens to place axes.

matplotlib is imported inside ``heatmap_png`` only: it costs a noticeable fraction of a second
and memory at import, and most processes (tests, the CLI, Slack-only deployments) never draw.
It is driven through ``Figure`` + ``FigureCanvasAgg`` rather than pyplot, which keeps global
figure state; drawing is still serialised by a lock because matplotlib's font caches and
text layout are not documented as thread-safe and the bot draws from worker threads.
"""

from __future__ import annotations

import io
import math
import threading
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

CHART_WEEKS = 12
MAX_WEEKS = 53  # a year; beyond that the cells get too small to read at this size

_WIDTH, _HEIGHT = 600, 300
_DPI = 100
CHART_SIZE: tuple[int, int] = (_WIDTH, _HEIGHT)

# Fixed layout, in pixels from the top-left corner of the PNG.
_GRID_TOP = 62  # the grid's area starts below the title and the month labels
_GRID_BOTTOM = _HEIGHT - 44  # above the caption and the legend
_LABEL_W = 34  # room for "Mon"/"Wed"/"Fri" left of the grid
_SIDE = 16  # margin left and right of everything
_MAX_PITCH = 28  # cell plus gap; a short window should not turn into huge tiles

_BACKGROUND = "#ffffff"
_EMPTY = "#ebedf0"
_GREENS = ("#9be9a8", "#40c463", "#30a14e", "#216e39")  # lightest .. darkest, as on GitHub
_TEXT = "#24292f"
_MUTED = "#57606a"

_TITLE_MAX = 80  # user-supplied text (group and member names) is cut to this many characters
_UNIT_MAX = 24

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DRAW_LOCK = threading.Lock()


def _as_date(day: date) -> date:
    """datetime is a subclass of date but does not subtract from one; use its calendar day."""
    return day.date() if isinstance(day, datetime) else day


def _check_weeks(weeks: int) -> None:
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be between 1 and {MAX_WEEKS}, not {weeks}")


def _first_monday(end: date, weeks: int) -> date:
    """The Monday of the leftmost column: the column holding ``end`` is the last of ``weeks``."""
    return end - timedelta(days=end.weekday()) - timedelta(weeks=weeks - 1)


def _geometry(weeks: int) -> tuple[int, int, int, int]:
    """(grid left x, grid top y, pitch, cell size) in pixels, all whole numbers.

    The pitch is the largest that fits both ``weeks`` columns and 7 rows; the grid (with its
    day labels) is centred in the space it has, so a short or a long window is not lopsided.
    """
    pitch = min(_MAX_PITCH, (_WIDTH - 2 * _SIDE - _LABEL_W) // weeks, (_GRID_BOTTOM - _GRID_TOP) // 7)
    gap = max(1, round(pitch / 7))
    left = (_WIDTH - (_LABEL_W + pitch * weeks - gap)) // 2 + _LABEL_W
    top = _GRID_TOP + (_GRID_BOTTOM - _GRID_TOP - (pitch * 7 - gap)) // 2
    return left, top, pitch, pitch - gap


def _cell_origin(day: date, end: date, weeks: int) -> tuple[int, int] | None:
    """Top-left pixel of ``day``'s cell, or None when the day is outside the drawn window."""
    day, end = _as_date(day), _as_date(end)
    first = _first_monday(end, weeks)
    if not first <= day <= end:
        return None
    left, top, pitch, _ = _geometry(weeks)
    column = (day - first).days // 7
    return left + column * pitch, top + day.weekday() * pitch


def cell_center(day: date, end: date, *, weeks: int = CHART_WEEKS) -> tuple[int, int] | None:
    """Pixel (x, y) of the centre of ``day``'s cell in ``heatmap_png``'s image; None if not drawn.

    Rows are image rows counted from the top, as PIL's ``getpixel`` expects.
    """
    _check_weeks(weeks)
    origin = _cell_origin(day, end, weeks)
    if origin is None:
        return None
    size = _geometry(weeks)[3]
    return origin[0] + size // 2, origin[1] + size // 2


def _level(value: float, top: float) -> int:
    """0 for no activity, else 1..4 by quarter of the window's maximum (the maximum itself is 4)."""
    if not value > 0 or not math.isfinite(value):
        return 0
    return max(1, min(len(_GREENS), math.ceil(len(_GREENS) * value / top)))


def _format_amount(total: float) -> str:
    return f"{total:,.0f}" if float(total).is_integer() else f"{total:,.1f}"


def _clean(text: str, limit: int) -> str:
    """User text as one literal line: no control characters or newlines, at most ``limit`` chars.

    Glyphs the font lacks become "?": matplotlib would otherwise draw an empty box and log a
    warning for every emoji in a group name.
    """
    text = " ".join("".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    charmap = _font_charmap()
    return "".join(ch if ord(ch) in charmap or ch == " " else "?" for ch in text)


@lru_cache(maxsize=1)
def _font_charmap() -> frozenset[int]:
    """Code points the default font (the one our text uses) can draw (looked up once per process)."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(font_manager.FontProperties())
    return frozenset(FT2Font(path).get_charmap())


def _month_labels(first: date, end: date, weeks: int) -> list[tuple[int, str]]:
    """(column, label) where a month starts, GitHub style; the first column names its month
    too unless a month starts within the next two columns, where the labels would collide."""
    labels: list[tuple[int, str]] = []
    for column in range(weeks):
        monday = first + timedelta(weeks=column)
        for offset in range(7):
            day = monday + timedelta(days=offset)
            if day.day == 1 and day <= end:
                labels.append((column, _MONTHS[day.month - 1]))
                break
    if not any(column <= 2 for column, _ in labels):
        labels.insert(0, (0, _MONTHS[first.month - 1]))
    return labels


def heatmap_png(
    values: Mapping[date, float],
    end: date,
    *,
    weeks: int = CHART_WEEKS,
    title: str = "",
    unit: str = "check-ins",
) -> bytes:
    """A PNG of exactly ``CHART_SIZE`` pixels: ``weeks`` columns ending with ``end``'s week.

    Days with a value above 0 are green, darker for more (relative to the busiest day shown);
    other days in the window are grey; days after ``end`` are left blank. ``title`` and
    ``unit`` may come from users and are drawn literally (no mathtext, no TeX).
    """
    _check_weeks(weeks)
    end = _as_date(end)
    first = _first_monday(end, weeks)
    shown: dict[date, float] = {}
    for day, value in values.items():
        day = _as_date(day)
        if first <= day <= end and value is not None and math.isfinite(value) and value > 0:
            shown[day] = shown.get(day, 0.0) + float(value)
    top = max(shown.values(), default=0.0)
    total = sum(shown.values())

    with _DRAW_LOCK:
        return _draw(shown, top, total, first, end, weeks, title, unit)


def _draw(
    shown: dict[date, float],
    top: float,
    total: float,
    first: date,
    end: date,
    weeks: int,
    title: str,
    unit: str,
) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure

    fig = Figure(figsize=(_WIDTH / _DPI, _HEIGHT / _DPI), dpi=_DPI, facecolor=_BACKGROUND)
    canvas = FigureCanvasAgg(fig)
    # One axes over the whole canvas whose data units are pixels, y growing downwards like the
    # PNG's rows: every position below is the pixel it lands on.
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(0, _WIDTH)
    ax.set_ylim(_HEIGHT, 0)

    left, grid_top, pitch, size = _geometry(weeks)
    cells: list[list[tuple[int, int]]] = []
    colours: list[str] = []
    day = first
    while day <= end:
        x, y = _cell_origin(day, end, weeks)  # type: ignore[misc]  # in the window by construction
        cells.append([(x, y), (x + size, y), (x + size, y + size), (x, y + size)])
        level = _level(shown.get(day, 0.0), top)
        colours.append(_GREENS[level - 1] if level else _EMPTY)
        day += timedelta(days=1)
    ax.add_collection(
        PolyCollection(cells, facecolors=colours, edgecolors="none", linewidths=0, antialiaseds=False)
    )

    def text(x: float, y: float, s: str, **kwargs: Any) -> None:
        kwargs.setdefault("color", _MUTED)
        kwargs.setdefault("fontsize", 9)
        ax.text(x, y, s, parse_math=False, usetex=False, **kwargs)

    label_size = 9 if pitch >= 12 else 7
    for row, name in ((0, "Mon"), (2, "Wed"), (4, "Fri")):
        text(left - 6, grid_top + row * pitch + size / 2, name, ha="right", va="center", fontsize=label_size)
    for column, name in _month_labels(first, end, weeks):
        text(left + column * pitch, grid_top - 6, name, ha="left", va="bottom", fontsize=label_size)

    if title:
        text(_WIDTH / 2, 12, _clean(title, _TITLE_MAX), ha="center", va="top", fontsize=13,
             fontweight="bold", color=_TEXT)

    week_word = "week" if weeks == 1 else "weeks"
    caption = f"{weeks} {week_word} to {end.isoformat()} · {_format_amount(total)} {_clean(unit, _UNIT_MAX)}"
    base = _HEIGHT - 20
    text(_SIDE, base, caption, ha="left", va="center")

    # "Less ■■■■■ More", right-aligned.
    swatch, step = 11, 14
    right = _WIDTH - _SIDE
    text(right, base, "More", ha="right", va="center")
    x0 = right - 34 - step * len((_EMPTY, *_GREENS))
    swatches = [
        [(x0 + i * step, base - swatch // 2), (x0 + i * step + swatch, base - swatch // 2),
         (x0 + i * step + swatch, base - swatch // 2 + swatch), (x0 + i * step, base - swatch // 2 + swatch)]
        for i in range(1 + len(_GREENS))
    ]
    ax.add_collection(
        PolyCollection(swatches, facecolors=[_EMPTY, *_GREENS], edgecolors="none", linewidths=0,
                       antialiaseds=False)
    )
    text(x0 - 5, base, "Less", ha="right", va="center")

    buffer = io.BytesIO()
    # print_png writes the canvas as it is, at the figure's own dpi: unlike savefig it consults
    # no savefig.* rcParams (a user's matplotlibrc with savefig.bbox: tight would change the size).
    canvas.print_png(buffer)
    return buffer.getvalue()
