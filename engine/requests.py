"""The base of every workflow request: frozen, refusing unknown fields, built with engine errors.

A front end (command, page, API) builds a request with ``Request.build(**fields)``: a missing,
unknown or out-of-range field raises the engine's :class:`~engine.errors.ValidationError` (every
field, value and rule at once, exit 2 on the command line), never pydantic's own error.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from engine.errors import from_pydantic

__all__ = ["Request"]


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
