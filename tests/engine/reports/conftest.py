"""One store with a run of every kind, made by the capabilities' own workflows, for the report
tests: a stress run on the first 40 loans of the bundled Lending Club tape (stored under a
hostile pool name), a validation on the bundled UCI credit-card data (1,500 rows) and a limit
evaluation on the bundled prices and shipped limits; and a parser for the reports' HTML."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from engine.credit import workflow as cw
from engine.market import workflow as mw
from engine.mlrisk import ValidationConfig
from engine.mlrisk import workflow as mlw
from engine.store import Store

ROOT = Path(__file__).resolve().parents[3]
TAPE = ROOT / "data" / "lendingclub_2018q1" / "loans_full_schema.csv.gz"
#: A pool name that would run a script and break the page if it were not escaped.
HOSTILE = '<script>alert("x")</script> & <b>Autos</b>'
EVALUATED_AT = datetime(2024, 3, 1, 9, 0)


@dataclass
class Filled:
    store: Store
    folder: Path
    stress_id: str
    validation_id: str
    limits_id: str
    pool_id: str


@pytest.fixture(scope="session")
def stored(tmp_path_factory) -> Filled:
    folder = tmp_path_factory.mktemp("reports")
    mp = pytest.MonkeyPatch()
    mp.setenv("STRESSLAB_KEYS", str(folder / "keys"))  # no signing key: evidence unsigned
    try:
        store = Store(folder / "reports.duckdb", timeout=10)
        pool_id = cw.import_pool(cw.ImportPoolRequest(
            content=pd.read_csv(TAPE, nrows=40).to_csv(index=False).encode(), filename="small.csv",
            pool_id="lc-40", pool_name=HOSTILE), store=store).pool_id
        stress = cw.run_stress(cw.StressRunRequest(
            pool_id=pool_id, scenario_names=["rate_shock_up", "credit_crisis"],
            analysis_date=date(2018, 6, 30), source="api", requested_by="ann"), store=store)
        config = ValidationConfig(target="default_payment_next_month", subgroups=["SEX"],
                                  model="logistic_regression", seed=7, row_limit=1500)
        validation = mlw.validate(mlw.ValidateRequest(config=config, user="dana", source="cli"),
                                  store=store)
        limits = mw.evaluate_limits(mw.LimitsRequest(requested_by="bob"), store=store,
                                    now=EVALUATED_AT)
    finally:
        mp.undo()
    return Filled(store=store, folder=folder, stress_id=stress.run_id,
                  validation_id=validation.run_id, limits_id=limits.run_id, pool_id=pool_id)


@dataclass
class Page:
    """What a report's HTML shows: its text, its tables (rows of cell texts), its tiles
    (label -> value) and every start tag with its attributes."""

    text: str = ""
    tables: list[list[list[str]]] = field(default_factory=list)
    tiles: dict[str, str] = field(default_factory=dict)
    tags: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)

    def rows(self, first_header: str) -> list[list[str]]:
        """The body rows of the table whose first header cell is ``first_header``."""
        for t in self.tables:
            if t and t[0] and t[0][0] == first_header:
                return t[1:]
        raise AssertionError(f"no table starts with {first_header!r}")


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._parts: list[str] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._tile: list[str] | None = None
        self._tile_class: str | None = None
        self._tile_parts: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.page.tags.append((tag, a))
        if tag == "table":
            self.page.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "div" and a.get("class") in ("k", "t", "v"):
            self._tile, self._tile_class = [], {"t": "k"}.get(a["class"], a["class"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.page.tables[-1].append(self._row)
            self._row = None
        elif tag == "div" and self._tile is not None:
            self._tile_parts[self._tile_class] = "".join(self._tile).strip()
            self._tile = None
            if self._tile_class == "v":
                self.page.tiles[self._tile_parts["k"]] = self._tile_parts["v"]

    def handle_data(self, data):
        self._parts.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._tile is not None:
            self._tile.append(data)


def parse(document: bytes | str) -> Page:
    """Parse a report's HTML (stdlib ``html.parser``)."""
    p = _Parser()
    p.feed(document.decode("utf-8") if isinstance(document, bytes) else document)
    p.close()
    p.page.text = "".join(p._parts)
    return p.page


def pdf_text(content: bytes) -> tuple[str, int]:
    """The PDF's text (pypdf), with line breaks removed, and its page count."""
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(content))
    text = "".join(page.extract_text() for page in reader.pages)
    return text.replace("\n", " "), len(reader.pages)
