"""How reports look: the self-contained HTML page, its charts (Plotly's kaleido export as inline
SVG), its PDF print (WeasyPrint) and the validation report's page.

A presentation layer below the capabilities, like :mod:`engine.display`: it imports none of them,
so a capability can render its own evidence (:func:`engine.render.validation.evidence_report`,
kept in a validation run's evidence) while :mod:`engine.reports` reads the stored runs of every
capability and renders them with these modules. Modules are imported by name; this package
imports nothing itself.
"""
