"""A report's PDF, printed by WeasyPrint from the report's own HTML.

Why WeasyPrint and not a headless-Chromium print (``page.pdf()``): it is a pure-Python library
with a plain API (``HTML(string=…).write_pdf()``), well kept (CourtBouillon, BSD licence), needs
no browser process per PDF, and implements CSS paged media (``@page`` size and margins, page
counters, ``break-inside``) that shapes an A4 page. The charts are inline SVG, which it draws as
vectors. Measured on the development machine (2 cores): about 0.15-0.25 s for a report once
WeasyPrint is imported (the import itself about 0.6 s), against about 2 s to start Chromium for
one print. It needs Pango (a system library); when it is missing, :func:`html_to_pdf` says what
to install instead of showing an import traceback.
"""

from __future__ import annotations

import logging

from engine.errors import StressLabError

__all__ = ["html_to_pdf", "MISSING_PANGO"]

MISSING_PANGO = ("making a PDF needs WeasyPrint and its system libraries (Pango): on Debian or "
                 "Ubuntu run `apt-get install libpango-1.0-0 libpangoft2-1.0-0`, then try again; "
                 "the HTML report needs none of them")

# The HTML cascade also reads the inline SVG's style attributes and warns that ``fill`` and
# ``stroke`` are no HTML properties; WeasyPrint's SVG renderer applies them. Its log keeps real
# problems only. Set once here: raising and restoring the level around each print raced between
# the app's sessions and could leave it raised.
logging.getLogger("weasyprint").setLevel(logging.ERROR)


def html_to_pdf(document: str) -> bytes:
    """Print an HTML document (A4, its ``@page`` CSS) to PDF bytes.

    Parameters
    ----------
    document : str
        A self-contained HTML page (no external reference is fetched: WeasyPrint's URL fetcher
        is refused for every URL).

    Returns
    -------
    bytes
        The PDF.

    Raises
    ------
    StressLabError
        If WeasyPrint or a system library it needs (Pango) is not installed.
    """
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: cffi cannot load libpango / libgobject
        raise StressLabError(f"{MISSING_PANGO} ({type(exc).__name__}: {exc})") from None

    def no_fetch(url: str, *args: object, **kwargs: object) -> dict:
        raise ValueError(f"a report fetches nothing ({url!r} refused)")

    return weasyprint.HTML(string=document, url_fetcher=no_fetch).write_pdf()
