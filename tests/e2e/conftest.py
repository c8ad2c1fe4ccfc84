"""Browser harness: `streamlit run` on 127.0.0.1 with a temporary store, driven by Playwright in
Debian's Chromium (/usr/bin/chromium; never `playwright install`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
#: Where browser tests save screenshots: $STRESSLAB_SCREENSHOTS, else an untracked folder.
#: `make screenshots` points it at docs/screenshots, which the README shows.
SCREENSHOTS = Path(os.environ.get("STRESSLAB_SCREENSHOTS") or ROOT / "tests" / "e2e" / "screenshots")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path, *, timeout: float = 60.0) -> tuple[subprocess.Popen, str, float]:
    """Start the app; returns (process, base URL, seconds until /_stcore/health answered)."""
    port = _free_port()
    env = dict(os.environ, STRESSLAB_DB=str(db), PYTHONUNBUFFERED="1")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"),
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{out}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return proc, url, time.perf_counter() - t0
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"streamlit did not answer on {url} within {timeout} s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def app_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The DuckDB file the app under test uses (the test may read it while the app runs: no
    process holds the store while idle)."""
    return tmp_path_factory.mktemp("store") / "e2e.duckdb"


@pytest.fixture(scope="session")
def app_server(app_store: Path) -> Iterator[str]:
    """Base URL of a running app on a fresh temporary store (:func:`app_store`)."""
    db = app_store
    proc, url, _ = start_server(db)
    try:
        yield url
    finally:
        stop_server(proc)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser, tmp_path: Path) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    try:
        yield pg
    finally:
        context.close()


def wait_for_app(page, *, timeout: int = 30_000) -> None:
    """Wait until Streamlit has finished running the current script."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=timeout,
    )


# --------------------------------------------------------------------------- every-page checks

#: Streamlit's frontend finds the server by probing the page's own path before the app's root:
#: a deep link to ``/pools`` asks ``/pools/_stcore/health`` and ``/pools/_stcore/host-config``
#: (404: the server reserves those suffixes), then ``/_stcore/…`` (200). No setting changes it
#: (``window.__streamlit.BACKEND_BASE_URL`` would, but only a host page can set it), and the
#: server must not answer 200 there or the app would connect its stream under ``/pools``.
#: Open upstream bug: https://github.com/streamlit/streamlit/issues/7074 (frontend ``PD()`` and
#: ``_RESERVED_STATIC_PATH_SUFFIXES`` in streamlit/web/server/starlette/starlette_static_routes.py).
STREAMLIT_PROBES = ("_stcore/health", "_stcore/host-config")
#: Chromium's console line for a response >= 400 (the request itself is checked separately).
_FAILED_RESOURCE = "Failed to load resource: the server responded with a status of 404 (Not Found)"


def known_probes(base_url: str, url_path: str) -> frozenset[str]:
    """The two 404 requests of Streamlit issue 7074 for a deep link to ``url_path`` (none for
    the app's root)."""
    if not url_path:
        return frozenset()
    return frozenset(f"{base_url}/{url_path}/{probe}" for probe in STREAMLIT_PROBES)


class Traffic:
    """Everything a page did that the every-page check judges: console errors and uncaught
    exceptions, every request URL, failed requests and answers with status >= 400.

    Attach with :func:`record_traffic` before ``page.goto``.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.console: list[tuple[str, str]] = []  # (text, url of the failing resource or "")
        self.requests: list[str] = []
        self.failed: list[tuple[str, str]] = []  # (url, reason)
        self.bad_status: list[tuple[str, int]] = []  # (url, status)

    def off_host(self) -> list[str]:
        """Requests to anything but the app's own scheme, host and port (data: and blob: URLs
        are made in the page and are allowed)."""
        origin = self.base_url.split("/", 3)[:3]
        return [u for u in self.requests
                if not u.startswith(("data:", "blob:")) and u.split("/", 3)[:3] != origin]

    def problems(self, *, tolerated: frozenset[str] = frozenset()) -> list[str]:
        """One line per problem; the URLs in ``tolerated`` may answer 404 (and log that 404 to
        the console), nothing else is excused."""
        out = [f"request off the app's host: {u}" for u in self.off_host()]
        out += [f"request failed: {u} ({why})" for u, why in self.failed]
        out += [f"HTTP {status}: {u}" for u, status in self.bad_status
                if not (status == 404 and u in tolerated)]
        out += [f"console error: {text}" + (f" [{where}]" if where else "")
                for text, where in self.console
                if not (text == _FAILED_RESOURCE and where in tolerated)]
        return out


#: In the browser: the absolute URL of every resource the document names (icons, scripts,
#: styles, images, frames, media). The browser fetches a favicon when it chooses to (a tab may
#: never ask, or ask after the check), so a favicon on a CDN, which Streamlit makes of a
#: ``:material/…:`` page icon, is caught here even when the request log missed it.
_NAMED_URLS_JS = """() => [...document.querySelectorAll(
    'link[href], script[src], img[src], iframe[src], source[src], video[src], audio[src]')]
  .map(e => e.href || e.src).filter(Boolean)"""


def named_off_host(page, base_url: str) -> list[str]:
    """URLs named by the page's ``link``, ``script``, ``img``, ``iframe`` and media elements
    that are not on the app's own scheme, host and port (``data:`` and ``blob:`` allowed)."""
    origin = base_url.rstrip("/").split("/", 3)[:3]
    return [u for u in page.evaluate(_NAMED_URLS_JS)
            if not u.startswith(("data:", "blob:")) and u.split("/", 3)[:3] != origin]


def record_traffic(page, base_url: str) -> Traffic:
    """Record ``page``'s console errors, uncaught exceptions and requests into a :class:`Traffic`."""
    t = Traffic(base_url)
    page.on("console", lambda m: m.type == "error" and t.console.append(
        (m.text, (m.location or {}).get("url", ""))))
    page.on("pageerror", lambda exc: t.console.append((f"uncaught: {exc}", "")))
    page.on("request", lambda r: t.requests.append(r.url))
    page.on("requestfailed", lambda r: t.failed.append((r.url, r.failure or "")))
    page.on("response", lambda r: r.status >= 400 and t.bad_status.append((r.url, r.status)))
    return t


def wait_until_rendered(page, *, timeout: int = 60_000) -> None:
    """Wait until the page is drawn: the app is connected and its script has finished a run
    (Streamlit sets ``window.prerenderReady`` then and marks ``stApp`` with its connection and
    script state), no running indicator or placeholder skeleton is left (tables and charts load
    their code after the script ends), every Plotly chart shown has drawn, and fonts are loaded.

    Unlike :func:`wait_for_app`, this does not pass on the empty page before the app connects.
    """
    page.wait_for_function(
        """() => {
          const app = document.querySelector('[data-testid="stApp"]');
          return window.prerenderReady === true && app
              && app.dataset.testConnectionState === 'CONNECTED'
              && app.dataset.testScriptState === 'notRunning'
              && !document.querySelector('[data-testid="stStatusWidget"]')
              && !document.querySelector('[data-testid="stSkeleton"]')
              && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                   .filter(c => c.checkVisibility())
                   .every(c => c.querySelector('.main-svg'))
              && document.fonts.status === 'loaded';
        }""",
        timeout=timeout)


#: In the browser: how the main block's width compares to its box, and the outermost elements
#: inside it that stick out of the viewport (an element inside a box that clips or scrolls
#: horizontally is judged by that box, as the reader sees it; one that is not drawn, such as the
#: content of a closed expander, is not judged). Elements drawn transparent until hovered (the
#: element toolbar) are judged: they show on hover.
_OVERFLOW_JS = """() => {
  const vw = document.documentElement.clientWidth;
  const blocks = {};
  for (const id of ['stMain', 'stMainBlockContainer']) {
    const el = document.querySelector(`[data-testid="${id}"]`);
    blocks[id] = el ? {scrollWidth: el.scrollWidth, clientWidth: el.clientWidth} : null;
  }
  const main = document.querySelector('[data-testid="stMain"]');
  const wide = [];
  const walk = (el) => {
    for (const child of el.children) {
      const r = child.getBoundingClientRect();
      const style = getComputedStyle(child);
      // not drawn: display none, hidden, or inside a closed expander (content-visibility)
      const shown = child.checkVisibility({visibilityProperty: true}) && r.width > 0;
      if (shown && (r.width > vw + 0.5 || r.right > vw + 0.5 || r.left < -0.5)) {
        let named = child;
        while (named && named !== main && !named.dataset?.testid) named = named.parentElement;
        wide.push({testid: named?.dataset?.testid || '', tag: child.tagName.toLowerCase(),
                   cls: String(child.className?.baseVal ?? child.className ?? '').slice(0, 60),
                   left: Math.round(r.left), width: Math.round(r.width), right: Math.round(r.right),
                   text: (child.innerText || '').trim().slice(0, 60)});
        continue;  // its descendants overflow with it: report the outermost one
      }
      if (['hidden', 'auto', 'scroll', 'clip'].includes(style.overflowX)) continue;  // clipped
      walk(child);
    }
  };
  if (main) walk(main);
  // Boxes that scroll sideways (a table wider than its frame): the reader must scroll to see it.
  const headings = main ? [...main.querySelectorAll('h1, h2, h3, h4, h5, h6')] : [];
  const scrolling = [];
  for (const box of main ? main.querySelectorAll('*') : []) {
    const style = getComputedStyle(box);
    if (!['auto', 'scroll'].includes(style.overflowX) || !box.checkVisibility({visibilityProperty: true})) continue;
    if (box.scrollWidth <= box.clientWidth + 1) continue;
    let named = box;
    while (named && named !== main && !named.dataset?.testid) named = named.parentElement;
    const before = headings.filter(h => h.compareDocumentPosition(box) & Node.DOCUMENT_POSITION_FOLLOWING);
    const panel = box.closest('[role="tabpanel"]');
    const tab = panel && document.getElementById(panel.getAttribute('aria-labelledby') || '');
    scrolling.push({testid: named?.dataset?.testid || '', scrollWidth: box.scrollWidth,
                    clientWidth: box.clientWidth,
                    under: before.length ? before[before.length - 1].innerText.trim().slice(0, 60) : '',
                    tab: tab ? tab.innerText.trim().slice(0, 40) : ''});
  }
  return {viewport: vw, blocks, wide, scrolling};
}"""


def horizontal_overflow(page) -> dict:
    """Measure horizontal overflow of the main block at the current viewport.

    Returns
    -------
    dict
        ``viewport`` (px, the document's client width), ``blocks`` (``stMain`` and
        ``stMainBlockContainer``: their ``scrollWidth`` and ``clientWidth`` in px, or None when
        absent) and ``wide``: the outermost elements inside ``stMain`` wider than the viewport
        or reaching past either edge, each with the nearest ``data-testid``, tag, class,
        ``left``/``width``/``right`` in px and the start of its text; ``scrolling``: the boxes
        inside ``stMain`` whose content is wider than they are (a table that scrolls sideways),
        each with the nearest ``data-testid``, ``scrollWidth``, ``clientWidth``, the heading
        above it (``under``) and the label of the tab it is in (``tab``, "" outside tabs).
    """
    return page.evaluate(_OVERFLOW_JS)


def screenshot_page(page, path: Path, *, width: int, height: int = 900) -> None:
    """The whole page at ``width`` px: Streamlit scrolls inside ``stMain``, so the viewport is
    made as tall as its content for the picture, then set back to ``width`` × ``height``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    content = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                            " return m ? m.scrollHeight : document.body.scrollHeight; }")
    page.set_viewport_size({"width": width, "height": min(max(int(content) + 40, height), 8000)})
    page.wait_for_timeout(600)  # let Plotly and the table canvases re-layout to the new size
    wait_until_rendered(page)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": width, "height": height})
