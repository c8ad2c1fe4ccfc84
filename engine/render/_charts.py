"""The reports' charts: Plotly figures drawn as inline SVG by Plotly's own export (kaleido).

Kaleido 1.x drives a headless Chromium (Debian's ``/usr/bin/chromium`` when present) and starts
one per session, about 2 s on an idle machine; :func:`svg_images` draws all of a report's figures
in one session, so a report pays that once. The SVG is made byte-stable: Plotly names its clip
paths and traces after random ids, which are replaced by ids derived from the figure's position
in the report (unique within the page, the same on every build), so the same run gives the same
report bytes.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from engine.display import chart_text
from engine.errors import StressLabError

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["WIDTH", "HEIGHT", "chart_text", "svg_images", "base_layout"]

#: Size of every chart, px (the page's text column is about 700 px wide on A4).
WIDTH, HEIGHT = 700, 330
#: Browser kaleido drives when it exists; otherwise kaleido looks for one itself.
CHROMIUM = "/usr/bin/chromium"
#: Seconds kaleido may take to draw one figure.
TIMEOUT_S = 60.0
NO_BROWSER = ("drawing the report's charts needs Chromium (Plotly's kaleido export drives it): "
              "install it (Debian: apt-get install chromium) or set BROWSER_PATH to a Chrome or "
              "Chromium binary, and try again")

_DEFS_ID = re.compile(r'id="defs-([0-9a-z]+)"')


def base_layout(*, title: str, x_title: str, y_title: str) -> dict[str, Any]:
    """The layout every report chart shares: white, legend under the plot clear of the x-axis
    title, margins that keep tick labels inside."""
    return {
        "title": {"text": chart_text(title), "x": 0.0, "xanchor": "left", "font": {"size": 15}},
        "template": "plotly_white",
        "width": WIDTH, "height": HEIGHT,
        "margin": {"l": 70, "r": 20, "t": 45, "b": 95},
        "font": {"family": "DejaVu Sans, Arial, sans-serif", "size": 11},
        "xaxis": {"title": {"text": chart_text(x_title)}, "automargin": True},
        "yaxis": {"title": {"text": chart_text(y_title)}, "automargin": True},
        "legend": {"orientation": "h", "x": 0.0, "y": -0.38, "xanchor": "left", "yanchor": "top"},
    }


def _stable(svg: str, *, tag: str) -> str:
    """Replace Plotly's random page id by ``tag`` (clip paths and defs are named after it)."""
    found = _DEFS_ID.search(svg)
    if found is None:
        return svg
    uid = found.group(1)
    return re.sub(rf'(id="|#|url\(#|url\(\'#)([A-Za-z-]*){re.escape(uid)}',
                  lambda m: f"{m.group(1)}{m.group(2)}{tag}", svg)


async def _draw_all(figures: Sequence[go.Figure]) -> list[bytes]:
    import kaleido

    options: dict[str, Any] = {"n": 1, "timeout": TIMEOUT_S, "mathjax": False}
    if os.path.exists(CHROMIUM) and not os.environ.get("BROWSER_PATH"):
        options["path"] = CHROMIUM
    async with kaleido.Kaleido(**options) as k:
        return [await k.calc_fig(fig, opts={"format": "svg", "width": WIDTH, "height": HEIGHT})
                for fig in figures]


def svg_images(figures: Sequence[go.Figure], *, prefix: str = "fig") -> list[str]:
    """Draw ``figures`` as SVG text, in one kaleido (Chromium) session.

    Parameters
    ----------
    figures : sequence of plotly Figure
        Each is drawn at :data:`WIDTH` x :data:`HEIGHT` px. Their traces get fixed ``uid``\\ s
        (``{prefix}{i}t{j}``), so the SVG does not depend on Plotly's random ids.
    prefix : str, default "fig"
        Prefix of the ids of the figures' clip paths (unique within a page).

    Returns
    -------
    list of str
        One ``<svg …>`` element per figure, in order; no script, no external reference.

    Raises
    ------
    StressLabError
        If no Chromium can be started, or drawing fails.
    """
    if not figures:
        return []
    for i, fig in enumerate(figures):
        for j, trace in enumerate(fig.data):
            trace.uid = f"{prefix}{i}t{j}"
    result: dict[str, Any] = {}

    def work() -> None:  # own thread and loop: the caller may already run an event loop
        try:
            result["svg"] = asyncio.run(_draw_all(figures))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            result["error"] = exc

    thread = threading.Thread(target=work, name="report-charts")
    thread.start()
    thread.join()
    if "error" in result:
        exc = result["error"]
        if type(exc).__name__ == "ChromeNotFoundError":
            raise StressLabError(NO_BROWSER) from exc
        raise StressLabError(f"the report's charts could not be drawn ({type(exc).__name__}: "
                             f"{exc}); {NO_BROWSER}") from exc
    return [_stable(svg.decode("utf-8"), tag=f"{prefix}{i}")
            for i, svg in enumerate(result["svg"])]
