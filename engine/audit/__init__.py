"""Audit: the hash-chained audit trail, evidence manifests and the table of recorded runs.

* :mod:`engine.audit.chain`: the tamper-evident, append-only log (``audit_chain``), whose records
  cover the decision rows they describe and whose head is signed;
* :mod:`engine.audit.keys`: the Ed25519 signing key and the checkpoints, kept outside the store;
* :mod:`engine.audit.runs`: ``runs``, one row per recorded run of any capability, each with its
  ``run`` record in the chain;
* :mod:`engine.audit.manifest`: evidence manifests of ML validation runs;
* :mod:`engine.audit.workflow`: the user's actions (verify, export, keys, list runs), called by
  ``stresslab audit …``, ``stresslab keys …``, ``stresslab runs list`` (:mod:`engine.audit.cli`)
  and the pages.

This package imports no capability; capabilities write into it inside their own transactions.
Nothing is imported here, so that ``stresslab --help`` stays fast.
"""
