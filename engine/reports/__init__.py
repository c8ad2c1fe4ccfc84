"""Leadership's decision summary and the downloadable reports (issue 13).

Modules are imported by name (``engine.reports.summary``, ``engine.reports.workflow``): this
package imports nothing itself, so importing it stays cheap.
"""
