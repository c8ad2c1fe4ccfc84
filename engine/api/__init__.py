"""The HTTP API (FastAPI + uvicorn): a thin front end over the workflows.

``engine.api.app.create_app`` builds the application; ``stresslab serve`` runs it. See
:mod:`engine.api.app`.
"""
