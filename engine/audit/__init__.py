"""Audit: the hash-chained audit trail, evidence manifests and the table of recorded runs.

* :mod:`engine.audit.chain`: the tamper-evident, append-only log (``audit_chain``);
* :mod:`engine.audit.runs`: ``runs``, one row per recorded run of any capability;
* :mod:`engine.audit.manifest`: evidence manifests of ML validation runs;
* :mod:`engine.audit.workflow`: the user's actions (verify, export, list runs), called by
  ``stresslab audit …``, ``stresslab runs list`` (:mod:`engine.audit.cli`) and the pages.

This package imports no capability; capabilities write into it inside their own transactions.
Nothing is imported here, so that ``stresslab --help`` stays fast.
"""
