"""The base of every workflow request: frozen, refusing unknown fields, built with engine errors.

A front end (command, page, API) builds a request with ``Request.build(**fields)``: a missing,
unknown or out-of-range field raises the engine's :class:`~engine.errors.ValidationError` (every
field, value and rule at once, exit 2 on the command line), never pydantic's own error.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Self

import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.errors import from_pydantic

__all__ = ["Request", "ExecutorChoice", "SCHEDULER_PATTERN"]


class Request(BaseModel):
    """A workflow request: frozen, unknown fields refused; :meth:`build` gives engine errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: What the request is, for error messages ("stress run", "limit evaluation", …).
    subject: ClassVar[str] = "request"

    #: Who asked: the HTTP API sets it from the bearer token's user (a body's own value is
    #: replaced); None from the command line. A recorded run keeps it in its configuration and
    #: in its signed audit record.
    requested_by: str | None = Field(default=None, min_length=1, max_length=128)

    def asked_by(self, user: str | None) -> Self:
        """This request as asked by ``user`` (the API's token user)."""
        return self.model_copy(update={"requested_by": user})

    @classmethod
    def build(cls, **fields: Any) -> Self:
        """The request from its fields.

        Raises
        ------
        ValidationError
            Every missing, unknown or out-of-range field (the engine's error, not pydantic's).
        """
        try:
            return cls.model_validate(fields)
        except pydantic.ValidationError as exc:
            raise from_pydantic(exc, subject=cls.subject) from None


#: A Dask scheduler's address: tcp:// or tls://, a host name, IPv4 or [IPv6] address, and a port.
SCHEDULER_PATTERN = r"^(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5}$"


class ExecutorChoice(BaseModel):
    """Where a request's work runs: this process (``local``, the default) or a Dask cluster.

    Mixed into the requests that can fan out (credit stress runs, model validations), so the
    command, the page and the API choose the same way (:func:`engine._dask.dask_client` makes
    the client).

    Attributes
    ----------
    executor : {"local", "dask"}
    scheduler : str, optional
        ``dask`` only: a running scheduler, ``tcp://HOST:PORT`` (or ``tls://``; IPv6 in brackets).
    local_workers : int, optional
        ``dask`` only, without ``scheduler``: worker processes (1 … 64) of a LocalCluster started
        for the run and closed after. Neither: a LocalCluster with one worker per CPU core.
    """

    #: The request's other fields that apply to the dask executor only.
    dask_only: ClassVar[tuple[str, ...]] = ()

    executor: Literal["local", "dask"] = "local"
    scheduler: str | None = Field(default=None, pattern=SCHEDULER_PATTERN, max_length=300)
    local_workers: int | None = Field(default=None, ge=1, le=64)

    @model_validator(mode="after")
    def _dask_options(self) -> Self:
        given = [name for name in ("scheduler", "local_workers", *self.dask_only)
                 if getattr(self, name) is not None]
        if self.executor != "dask" and given:
            raise ValueError(f"{', '.join(given)} apply to the dask executor only: add "
                             "executor='dask' (--executor dask)")
        if self.scheduler is not None and self.local_workers is not None:
            raise ValueError("give either a scheduler address (a running cluster) or a number "
                             "of local workers (a LocalCluster for the run), not both")
        return self

