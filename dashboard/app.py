"""StressLab entry script: `streamlit run dashboard/app.py`.

Streamlit resolves ``st.Page`` paths against this script's folder and puts only that folder on
``sys.path``; the project is installed (``make run`` does it) and the page paths are built from
the repository root, so ``engine`` and ``dashboard`` import from any page.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import signin  # noqa: E402
from dashboard.shell import render_sidebar, startup  # noqa: E402
from dashboard.components.format import show_error  # noqa: E402
from engine.errors import StressLabError  # noqa: E402

PAGES = ROOT / "pages"

#: A local favicon: an emoji or ":material/…:" icon would be fetched from a CDN by every viewer.
st.set_page_config(page_title="StressLab", page_icon=str(ROOT / "dashboard" / "assets" / "favicon.png"),
                   layout="wide")
startup()
try:
    #: False: the sign-in page is drawn and no page runs (users exist, nobody signed in here).
    signed_in = signin.gate()
except StressLabError as exc:  # a busy store while reading the users: a plain message
    show_error(exc)
    signed_in = False

#: Sidebar groups by workflow; each page is one thin script in pages/.
NAVIGATION: dict[str, list[st.Page]] = {
    "Overview": [
        st.Page(PAGES / "home.py", title="Home", icon=":material/home:", default=True),
    ],
    "Credit stress": [
        st.Page(PAGES / "pools.py", title="Pools", icon=":material/database:", url_path="pools"),
        st.Page(PAGES / "scenarios.py", title="Scenarios", icon=":material/tune:",
                url_path="scenarios"),
        st.Page(PAGES / "stress_test.py", title="Stress test", icon=":material/monitoring:",
                url_path="stress_test"),
    ],
    "Model validation": [
        st.Page(PAGES / "ml_validation.py", title="Model validation", icon=":material/model_training:"),
        st.Page(PAGES / "ml_handbook.py", title="Scenario handbook", icon=":material/menu_book:"),
    ],
    "Market risk": [st.Page(PAGES / "market_risk.py", title="VaR and limits", icon=":material/monitoring:")],
    "Live risk": [st.Page(PAGES / "risk_desk.py", title="Risk desk", icon=":material/speed:",
                          url_path="risk_desk")],
}

# Signed out, the pages stay registered (a deep link survives the sign-in) but hidden, and none runs.
navigation = st.navigation({k: v for k, v in NAVIGATION.items() if v},
                           position="sidebar" if signed_in else "hidden")
if signed_in:
    render_sidebar()
    try:
        navigation.run()
    except StressLabError as exc:  # a busy store or an engine error: a plain message, no traceback
        show_error(exc)
