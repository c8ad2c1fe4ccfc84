"""Background tasks of the HTTP API (an async stress run, a validation), their stored states
and messages: see :mod:`engine.tasks.workflow`."""
