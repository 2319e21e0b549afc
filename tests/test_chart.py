"""The check-in heatmap: a real PNG of fixed size whose cells sit exactly where cell_center says."""

from __future__ import annotations

import io
import subprocess
import sys
import warnings
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from commands.studygroups.chart import CHART_SIZE, CHART_WEEKS, cell_center, heatmap_png

REPO = Path(__file__).resolve().parent.parent
END = date(2027, 3, 14)  # a Sunday: the 12-week window is then exactly END-83 .. END
assert END.weekday() == 6


def _open(png: bytes) -> Image.Image:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.size == CHART_SIZE
    return image.convert("RGB")


def _is_filled(pixel: tuple[int, int, int]) -> bool:
    """Green-ish: neither the grey of an empty day nor the white background."""
    r, g, b = pixel
    return g - max(r, b) >= 30


def _is_empty_cell(pixel: tuple[int, int, int]) -> bool:
    r, _, b = pixel
    return not _is_filled(pixel) and 200 <= min(pixel) and max(pixel) < 250 and abs(r - b) < 15


def _is_background(pixel: tuple[int, int, int]) -> bool:
    return min(pixel) >= 250


def _pixel(image: Image.Image, day: date, end: date, weeks: int = CHART_WEEKS) -> tuple[int, int, int]:
    centre = cell_center(day, end, weeks=weeks)
    assert centre is not None, day
    return image.getpixel(centre)


def _window(end: date, weeks: int = CHART_WEEKS) -> list[date]:
    first = end - timedelta(days=end.weekday(), weeks=weeks - 1)
    return [first + timedelta(days=i) for i in range((end - first).days + 1)]


def _history() -> dict[date, float]:
    """17 active days over the 12 weeks (both ends included), a zero day and one day too early."""
    offsets = [0, 1, 2, 5, 9, 10, 16, 23, 30, 31, 44, 50, 57, 63, 70, 77, 83]
    values: dict[date, float] = {END - timedelta(days=o): float(1 + o % 6) for o in offsets}
    values[END - timedelta(days=3)] = 0.0
    values[END - timedelta(days=84)] = 9.0  # the Sunday before the window: not drawn
    return values


def test_png_has_the_fixed_size_for_any_window() -> None:
    for weeks in (1, CHART_WEEKS, 26, 53):
        _open(heatmap_png(_history(), END, weeks=weeks, title="Size"))


def test_filled_cells_are_exactly_the_active_days_in_the_window() -> None:
    history = _history()
    image = _open(heatmap_png(history, END, title="Deep learning study group"))
    window = _window(END)
    assert len(window) == 84 and window[0] == END - timedelta(days=83)

    active = {day for day, value in history.items() if value > 0 and day in window}
    assert len(active) == 17
    filled = {day for day in window if _is_filled(_pixel(image, day, END))}
    assert filled == active
    assert all(_is_empty_cell(_pixel(image, day, END)) for day in window if day not in active)

    assert _is_filled(_pixel(image, END, END))
    assert _is_filled(_pixel(image, END - timedelta(days=83), END))
    assert _is_empty_cell(_pixel(image, END - timedelta(days=3), END))  # value 0
    assert cell_center(END - timedelta(days=84), END) is None  # one day too early
    assert cell_center(END + timedelta(days=1), END) is None


def test_days_after_end_in_the_last_column_are_blank() -> None:
    end = date(2027, 3, 17)  # a Wednesday
    history = {end: 2.0, end + timedelta(days=1): 5.0, end + timedelta(days=4): 1.0}
    image = _open(heatmap_png(history, end))
    assert _is_filled(_pixel(image, end, end))
    for later in range(1, 5):  # Thursday .. Sunday of end's week, where their cells would be
        day = end + timedelta(days=later)
        assert cell_center(day, end) is None
        assert _is_background(image.getpixel(cell_center(day, day)))
    filled = [day for day in _window(end) if _is_filled(_pixel(image, day, end))]
    assert filled == [end]


def test_cell_geometry() -> None:
    first = END - timedelta(days=83)
    x0, y0 = cell_center(first, END)
    x1, y1 = cell_center(first + timedelta(days=1), END)  # Tuesday: one row down
    x2, y2 = cell_center(first + timedelta(days=7), END)  # next Monday: one column right
    assert x1 == x0 and y1 > y0
    assert y2 == y0 and x2 > x0
    assert cell_center(END, END) == (x0 + 11 * (x2 - x0), y0 + 6 * (y1 - y0))
    for x, y in (cell_center(day, END, weeks=53) for day in _window(END, 53)):
        assert 0 <= x < CHART_SIZE[0] and 0 <= y < CHART_SIZE[1]
    assert cell_center(datetime(2027, 3, 14, 23, 30), END) == cell_center(END, END)
    with pytest.raises(ValueError):
        cell_center(END, END, weeks=0)
    with pytest.raises(ValueError):
        heatmap_png({}, END, weeks=54)


def test_empty_history_draws_all_cells_empty() -> None:
    image = _open(heatmap_png({}, END))
    pixels = {_pixel(image, day, END) for day in _window(END)}
    assert len(pixels) == 1
    assert _is_empty_cell(pixels.pop())


def test_bigger_value_is_a_darker_shade() -> None:
    small, big = END - timedelta(days=10), END - timedelta(days=20)
    image = _open(heatmap_png({small: 1, big: 10}, END))
    small_px, big_px = _pixel(image, small, END), _pixel(image, big, END)
    assert _is_filled(small_px) and _is_filled(big_px)
    assert sum(big_px) < sum(small_px)

    # A single active day gets the strongest shade, never a barely visible one.
    alone = _pixel(_open(heatmap_png({small: 0.5}, END)), small, END)
    assert alone == big_px


def test_user_text_is_drawn_literally_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no mathtext errors, no "glyph missing" warnings
        for title in ("$x$ and $\\frac{1}{0 @everyone", "@everyone 🚀 study\ngroup\t\x00", "x" * 500):
            _open(heatmap_png(_history(), END, title=title, unit="$ hours ^_^"))


def test_importing_the_module_does_not_import_matplotlib() -> None:
    # numpy is not in the list: the advice search (imported with the commands package) uses it.
    code = (
        "import sys, commands.studygroups.chart\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'PIL'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
