"""The live desk's inputs: the trade blotter, the price feed and the accounts file.

Formats
-------
Trade blotter (CSV, ``.csv.gz`` or Parquet), one row per trade:

==============  ==========================================================================
column          meaning
==============  ==========================================================================
``trade_id``    unique across the file (a trade is applied at most once)
``account_id``  the account that traded (must be in the accounts file when one is given)
``timestamp``   ISO 8601; an offset is converted to UTC, a time without one is taken as UTC
``instrument``  must appear in the price feed
``side``        ``buy`` or ``sell`` (case and surrounding blanks ignored)
``quantity``    > 0, units of the instrument (the side gives the sign)
``price``       > 0, account currency per unit
``fees``        optional, >= 0, account currency; a blank cell is 0
==============  ==========================================================================

Price feed: the long layout ``timestamp, instrument, price`` (one tick per row, no two ticks
of one instrument at one time), or the wide daily layout of the bundled prices (a date column
and one column per instrument, :func:`engine.market.data_io.validate_prices`). A daily close
of date ``D`` is stamped ``D 21:00 UTC`` (:data:`CLOSE_TIME_UTC`): the NYSE closes at 16:00
New York time, 21:00 UTC in winter and 20:00 UTC in summer, so the stamp is never before the
close happened and a trade on day ``D`` is not marked at ``D``'s close before it is known.

Accounts (YAML)::

    accounts:
      - account_id: alpha
        initial_capital: 100000          # account currency
        limits:                          # every limit is optional; defaults shown
          max_position_size: 100000      # account currency: |quantity| x mark of one instrument
          max_leverage: 30               # times: total_exposure / equity
          max_daily_loss: 1000           # account currency: -daily_pl
          max_drawdown: 5000             # account currency: peak equity - equity
          required_margin_ratio: 0.02    # decimal: margin = total_exposure x ratio

The five limit defaults are the product brief's (100,000, 30, 1,000, 5,000 and 0.02): notional
in account currency, except the leverage (a multiple) and the margin ratio (a decimal). Numbers
must be YAML numbers (``true`` or ``"1000"`` are refused), unknown keys are refused, and YAML
anchors and aliases are refused (an accounts file never needs them, and they are how a small
"billion laughs" document expands to gigabytes).

Every reader collects every problem of a file into one :class:`~engine.errors.ValidationError`
(row, column, value, rule; rows count data rows from 1) and reads files through the bounded
readers of :mod:`engine.ingest` and :mod:`engine.limits`.
"""

from __future__ import annotations

import hashlib
from datetime import time
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from engine.errors import InputError, Issue, ValidationError, from_pydantic

__all__ = [
    "CLOSE_TIME_UTC",
    "PRICE_COLUMNS",
    "TRADE_COLUMNS",
    "Account",
    "AccountLimits",
    "AccountsConfig",
    "bundled_price_feed",
    "parse_accounts",
    "read_accounts",
    "read_price_feed",
    "read_trades",
    "read_yaml",
    "YamlDocument",
    "validate_price_feed",
    "validate_trades",
    "wide_to_long",
]

#: Columns of a validated blotter, in order (``fees`` is optional in the file).
TRADE_COLUMNS: tuple[str, ...] = ("trade_id", "account_id", "timestamp", "instrument", "side",
                                  "quantity", "price", "fees")
#: Columns of a validated price feed (long layout), in order.
PRICE_COLUMNS: tuple[str, ...] = ("timestamp", "instrument", "price")
#: The UTC time a daily close is stamped at (see the module docstring).
CLOSE_TIME_UTC = time(21, 0)

_TABLE_KINDS = ("csv", "csv.gz", "parquet")
_TIMESTAMP_RULE = "not an ISO 8601 timestamp (e.g. 2024-01-02T14:30:00Z)"

Source = str | Path | bytes | IO[bytes]


# --------------------------------------------------------------------------- accounts

class AccountLimits(BaseModel):
    """An account's risk limits; defaults from the product brief.

    Attributes
    ----------
    max_position_size : float, default 100,000
        Largest notional of one instrument, ``|quantity| x mark``, account currency.
    max_leverage : float, default 30
        Largest ``total_exposure / equity``, a multiple.
    max_daily_loss : float, default 1,000
        Largest loss since the end of the previous UTC day, ``-daily_pl``, account currency.
    max_drawdown : float, default 5,000
        Largest fall of equity below its end-of-day high-water mark, account currency.
    required_margin_ratio : float, default 0.02
        Margin required per unit of exposure, decimal in (0, 1]:
        ``margin = total_exposure x required_margin_ratio``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    max_position_size: float = Field(default=100_000.0, gt=0, allow_inf_nan=False)
    max_leverage: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    max_daily_loss: float = Field(default=1_000.0, gt=0, allow_inf_nan=False)
    max_drawdown: float = Field(default=5_000.0, gt=0, allow_inf_nan=False)
    required_margin_ratio: float = Field(default=0.02, gt=0, le=1, allow_inf_nan=False)


class Account(BaseModel):
    """One account: its id, starting capital (account currency) and limits."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    account_id: str = Field(min_length=1, max_length=128)
    initial_capital: float = Field(gt=0, allow_inf_nan=False)
    limits: AccountLimits = AccountLimits()

    @field_validator("account_id")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if v != v.strip() or not v:
            raise ValueError("account_id must not be blank or start or end with spaces")
        return v


class AccountsConfig(BaseModel):
    """The accounts of a desk, each ``account_id`` once."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    accounts: list[Account] = Field(min_length=1)

    @field_validator("accounts")
    @classmethod
    def _unique(cls, v: list[Account]) -> list[Account]:
        seen: set[str] = set()
        dup = [a.account_id for a in v if a.account_id in seen or seen.add(a.account_id)]  # type: ignore[func-returns-value]
        if dup:
            raise ValueError(f"account_id {dup[0]!r} is given twice; give each account once")
        return v

    def account(self, account_id: str) -> Account:
        """The account ``account_id``.

        Raises
        ------
        InputError
            If there is no such account; the message lists the accounts.
        """
        for a in self.accounts:
            if a.account_id == account_id:
                return a
        raise InputError(f"account {account_id!r} is not in the accounts file; the accounts are "
                         f"{', '.join(self.ids)}")

    @property
    def ids(self) -> list[str]:
        """The account ids, in file order."""
        return [a.account_id for a in self.accounts]


def parse_accounts(data: Any, *, subject: str = "accounts") -> AccountsConfig:
    """Validate a parsed accounts document (a mapping with an ``accounts`` list).

    Parameters
    ----------
    data : any
        What :func:`yaml.safe_load` returned.
    subject : str, default "accounts"
        What the document is, for messages.

    Returns
    -------
    AccountsConfig

    Raises
    ------
    ValidationError
        Every missing or unknown key, non-number, out-of-range limit and repeated account id,
        by field path (``accounts.1.limits.max_leverage``).
    """
    if not isinstance(data, dict):
        raise ValidationError([Issue(None, None, type(data).__name__,
                                     "the accounts file must be a YAML mapping with an 'accounts' "
                                     "list")], subject=subject)
    try:
        return AccountsConfig.model_validate(data)
    except PydanticValidationError as exc:
        raise from_pydantic(exc, subject=subject) from None


def read_accounts(source: str | Path | bytes, *, subject: str | None = None) -> AccountsConfig:
    """Read an accounts YAML file (a path, or the file's bytes) and validate it.

    The file is read by :func:`read_yaml` (bounded, decoded, safe loader, no aliases).

    Parameters
    ----------
    source : str, Path or bytes
        A path to the file, or its content.
    subject : str, optional
        What the file is, for messages; default ``accounts file <name>``.

    Returns
    -------
    AccountsConfig

    Raises
    ------
    InputError
        A missing or oversized file, undecodable text, malformed YAML (line and column named),
        or a YAML alias.
    ValidationError
        Invalid content (see :func:`parse_accounts`).
    """
    doc = read_yaml(source, subject=subject, what="accounts")
    return parse_accounts(doc.data, subject=doc.subject)


class YamlDocument(NamedTuple):
    """A YAML file as read: its data, the subject its messages name, the sha256 of its bytes."""

    data: Any
    subject: str
    sha256: str


def read_yaml(source: str | Path | bytes, *, subject: str | None = None,
              what: str = "YAML") -> YamlDocument:
    """Read a small YAML document (a path, or the file's bytes) safely.

    The bytes are bounded by ``STRESSLAB_MAX_INPUT_MB`` and decoded as every text input is
    (:func:`engine.limits.decode_text`); the YAML is read with PyYAML's safe loader, anchors and
    aliases refused.

    Parameters
    ----------
    source : str, Path or bytes
        A path to the file, or its content.
    subject : str, optional
        What the file is, for messages; default ``<what> file <name>`` (or ``what`` for bytes).
    what : str, default "YAML"
        The kind of file, for the default subject.

    Returns
    -------
    YamlDocument
        What :func:`yaml.safe_load` would return, the subject used in messages, and the sha256
        (hex) of the file's bytes.

    Raises
    ------
    InputError
        A missing or oversized file, undecodable text, malformed YAML (line and column named),
        or a YAML alias.
    """
    import yaml

    from engine.limits import decode_text, limits, too_large

    lim = limits()
    if isinstance(source, bytes):
        subj, raw = subject or what, source
    else:
        path = Path(source)
        subj = subject or f"{what} file {path.name}"
        if not path.is_file():
            raise InputError(f"{subj}: file not found: {path}")
        with path.open("rb") as fh:
            raw = fh.read(lim.max_input_bytes + 1)
    if len(raw) > lim.max_input_bytes:
        raise too_large(subj, what="the file", field="max_input_bytes", lim=lim)
    text, _ = decode_text(raw, name=subj)
    try:
        data = yaml.load(text, Loader=_loader(subj))  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"{subj}: malformed YAML{where}: {problem}; fix the file and try "
                         "again") from None
    return YamlDocument(data, subj, hashlib.sha256(raw).hexdigest())


def _loader(subject: str) -> type:
    """A PyYAML safe loader that refuses anchors and aliases."""
    import yaml

    class _NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D102
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise InputError(
                    f"{subject}: line {mark.line + 1}, column {mark.column + 1}: YAML aliases "
                    "(*name) are not accepted here; write each value out")
            return super().compose_node(parent, index)

    return _NoAliasLoader


# --------------------------------------------------------------------------- shared cell checks

def _columns(frame: pd.DataFrame, wanted: tuple[str, ...], *, optional: tuple[str, ...] = (),
             subject: str) -> dict[str, Any]:
    """Map each wanted column (case-insensitive, blanks ignored) to the frame's own name."""
    found = {str(c).strip().lower(): c for c in frame.columns}
    missing = [c for c in wanted if c not in found]
    if missing:
        raise ValidationError([Issue(None, c, None, "required column is missing; the columns are "
                                     + ", ".join(wanted + optional)) for c in missing],
                              subject=subject)
    return {c: found[c] for c in (*wanted, *optional) if c in found}


def _text(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column as stripped text, and the mask of empty cells."""
    text = raw.astype("string").str.strip()
    empty = (text.isna() | (text == "")).to_numpy(dtype=bool)
    return text.fillna("").to_numpy(dtype=object), empty


def _numbers(raw: pd.Series) -> np.ndarray:
    """A column as floats; NaN where a cell is not a number (booleans are not numbers)."""
    if raw.dtype == bool:
        return np.full(len(raw), np.nan)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return raw.to_numpy(dtype=float, na_value=np.nan)
    if raw.dtype == object:
        raw = raw.where(~raw.map(lambda x: isinstance(x, (bool, np.bool_))).astype(bool))
    return pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _timestamps(raw: pd.Series) -> pd.Series:
    """A column as UTC timestamps (ns); NaT where a cell is not an ISO 8601 time.

    Numbers (epoch seconds?) are not ISO 8601 and give NaT rather than a guess of their unit.
    """
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        ts = raw.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(raw.dtype):
        ts = raw.dt.tz_localize("UTC")
    elif pd.api.types.is_numeric_dtype(raw.dtype) or raw.dtype == bool:
        ts = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    else:
        text = raw.astype("string").str.strip()
        text = text.where(~text.str.fullmatch(r"[+-]?\d+(\.\d*)?").fillna(False).astype(bool))
        ts = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    return ts.dt.as_unit("ns").reset_index(drop=True)


def _ns(values: pd.Series | pd.Index) -> np.ndarray:
    """UTC timestamps as int64 ns (NaT as the smallest int64)."""
    return pd.DatetimeIndex(values).as_unit("ns").asi8


def _isin(values: np.ndarray, allowed: list[str]) -> np.ndarray:
    return pd.Series(values, dtype=object).isin(allowed).to_numpy(dtype=bool)


def _add(issues: list[Issue], mask: np.ndarray, *, column: str, values: Any, rule: str) -> None:
    for i in np.flatnonzero(mask):
        v = values[i] if values is not None else None
        if isinstance(v, np.generic):
            v = v.item()  # a message shows 0.0, not np.float64(0.0)
        if v is not None and not isinstance(v, str) and pd.isna(v):
            v = None
        issues.append(Issue(int(i) + 1, column, v, rule))


def _raise(issues: list[Issue], *, order: tuple[str, ...], subject: str) -> None:
    if issues:
        rank = {c: k for k, c in enumerate(order)}
        issues.sort(key=lambda x: (x.row or 0, rank.get(x.column or "", len(rank))))
        raise ValidationError(issues, subject=subject)


# --------------------------------------------------------------------------- trades

def validate_trades(frame: pd.DataFrame, *, prices: pd.DataFrame | None = None,
                    accounts: AccountsConfig | None = None,
                    subject: str = "trade blotter") -> pd.DataFrame:
    """Check a raw blotter and return it typed, in file order.

    Parameters
    ----------
    frame : DataFrame of shape (n_trades, n_columns)
        The blotter as read (see the module docstring for the columns; names are matched
        case-insensitively, other columns are ignored).
    prices : DataFrame, optional
        The validated price feed (:func:`validate_price_feed`); when given, every instrument must
        be in it and no trade may come before its instrument's first price.
    accounts : AccountsConfig, optional
        When given, every ``account_id`` must be one of its accounts.
    subject : str, default "trade blotter"
        What the file is, for messages.

    Returns
    -------
    DataFrame of shape (n_trades, 8)
        Columns :data:`TRADE_COLUMNS`: ``timestamp`` datetime64[ns, UTC], ``side`` ``buy`` or
        ``sell``, ``quantity``, ``price`` and ``fees`` float (fees 0 when absent), ids as text.

    Raises
    ------
    ValidationError
        Every missing column, empty id, repeated ``trade_id`` (naming the first row), unknown
        account, bad timestamp, unknown instrument, bad side, non-positive or non-numeric
        quantity or price, negative fees, and trade before its instrument's first price.
    """
    cols = _columns(frame, TRADE_COLUMNS[:-1], optional=("fees",), subject=subject)
    issues: list[Issue] = []
    n = len(frame)

    trade_id, empty = _text(frame[cols["trade_id"]])
    _add(issues, empty, column="trade_id", values=None, rule="trade_id is empty")
    ids = pd.Series(trade_id)
    dup = ids.duplicated(keep="first").to_numpy() & ~empty
    if dup.any():
        first_row = {v: k + 1 for k, v in reversed(list(enumerate(trade_id)))}
        for i in np.flatnonzero(dup):
            issues.append(Issue(int(i) + 1, "trade_id", trade_id[i],
                                f"trade_id repeats row {first_row[trade_id[i]]}; each trade "
                                "needs its own id"))

    account_id, empty = _text(frame[cols["account_id"]])
    _add(issues, empty, column="account_id", values=None, rule="account_id is empty")
    if accounts is not None:
        unknown = ~empty & ~_isin(account_id, accounts.ids)
        _add(issues, unknown, column="account_id", values=account_id,
             rule=f"account not in the accounts file ({', '.join(accounts.ids)})")

    raw_ts = frame[cols["timestamp"]]
    ts = _timestamps(raw_ts)
    bad_ts = ts.isna().to_numpy()
    _add(issues, bad_ts, column="timestamp", values=raw_ts.to_numpy(dtype=object),
         rule=_TIMESTAMP_RULE)

    instrument, empty = _text(frame[cols["instrument"]])
    _add(issues, empty, column="instrument", values=None, rule="instrument is empty")
    if prices is not None:
        first = prices.groupby("instrument", sort=False)["timestamp"].min()
        unknown = ~empty & ~_isin(instrument, list(first.index))
        _add(issues, unknown, column="instrument", values=instrument,
             rule="instrument not in the price feed")
        check = ~unknown & ~empty & ~bad_ts
        if check.any():
            first_ns = pd.Series(_ns(first), index=first.index)
            early = np.zeros(n, dtype=bool)
            early[check] = _ns(ts)[check] < first_ns.reindex(instrument[check]).to_numpy()
            for i in np.flatnonzero(early):
                issues.append(Issue(int(i) + 1, "timestamp", ts.iloc[i].isoformat(),
                                    f"trade comes before the first price of {instrument[i]} "
                                    f"({first[instrument[i]].isoformat()}); it cannot be marked"))

    side, empty = _text(frame[cols["side"]])
    side = pd.Series(side, dtype="string").str.lower().to_numpy(dtype=object)
    _add(issues, ~_isin(side, ["buy", "sell"]), column="side",
         values=frame[cols["side"]].to_numpy(dtype=object), rule="side must be buy or sell")

    out: dict[str, Any] = {}
    for name in ("quantity", "price"):
        raw = frame[cols[name]]
        num = _numbers(raw)
        shown = raw.to_numpy(dtype=object)
        _add(issues, ~np.isfinite(num), column=name, values=shown,
             rule=f"{name} must be a number")
        _add(issues, np.isfinite(num) & (num <= 0), column=name, values=num,
             rule=f"{name} must be greater than 0")
        out[name] = num
    if "fees" in cols:
        raw = frame[cols["fees"]]
        fees = _numbers(raw)
        fees = np.where(_text(raw)[1], 0.0, fees)
        _add(issues, ~np.isfinite(fees), column="fees", values=raw.to_numpy(dtype=object),
             rule="fees must be a number (leave the cell blank for none)")
        _add(issues, np.isfinite(fees) & (fees < 0), column="fees", values=fees,
             rule="fees must be 0 or more")
    else:
        fees = np.zeros(n)

    _raise(issues, order=TRADE_COLUMNS, subject=subject)
    return pd.DataFrame({
        "trade_id": pd.array(trade_id, dtype=object), "account_id": pd.array(account_id, dtype=object),
        "timestamp": ts, "instrument": pd.array(instrument, dtype=object),
        "side": pd.array(side, dtype=object), "quantity": out["quantity"], "price": out["price"],
        "fees": fees,
    })


def read_trades(source: Source, *, filename: str | None = None, prices: pd.DataFrame | None = None,
                accounts: AccountsConfig | None = None) -> pd.DataFrame:
    """Read a blotter (CSV, ``.csv.gz`` or Parquet) within the input limits and validate it.

    Parameters
    ----------
    source : str, Path, bytes or binary file-like
        A path or an upload.
    filename : str, optional
        The upload's name (its extension chooses the reader).
    prices, accounts
        As :func:`validate_trades`.

    Returns
    -------
    DataFrame
        As :func:`validate_trades`.

    Raises
    ------
    InputError
        A missing, unreadable or oversized file (:mod:`engine.limits`).
    ValidationError
        As :func:`validate_trades`.
    """
    read = _read(source, filename=filename, subject="trade blotter")
    return validate_trades(read.frame, prices=prices, accounts=accounts,
                           subject=f"trade blotter {read.name}")


def _read(source: Source, *, filename: str | None, subject: str):
    from engine.ingest import read_source

    if isinstance(source, (str, Path)):
        if not Path(source).is_file():
            raise InputError(f"{subject}: file not found: {source}")
        filename = filename or Path(source).name
    return read_source(source, filename=filename, subject=subject, kinds=_TABLE_KINDS)


# --------------------------------------------------------------------------- prices

def validate_price_feed(frame: pd.DataFrame, *, subject: str = "price feed") -> pd.DataFrame:
    """Check a long price feed and return it sorted by time, then instrument.

    Parameters
    ----------
    frame : DataFrame of shape (n_ticks, 3+)
        Columns ``timestamp``, ``instrument``, ``price`` (case-insensitive; others ignored).

    Returns
    -------
    DataFrame of shape (n_ticks, 3)
        Columns :data:`PRICE_COLUMNS`: ``timestamp`` datetime64[ns, UTC], ``instrument`` text,
        ``price`` float (account currency per unit); sorted by ``timestamp`` then
        ``instrument``, so the order of same-time ticks in the file does not matter.

    Raises
    ------
    ValidationError
        Every bad timestamp, empty instrument, non-numeric or non-positive price, and second
        tick of one instrument at one time (naming the first row).
    """
    cols = _columns(frame, PRICE_COLUMNS, subject=subject)
    issues: list[Issue] = []
    raw_ts = frame[cols["timestamp"]]
    ts = _timestamps(raw_ts)
    bad_ts = ts.isna().to_numpy()
    _add(issues, bad_ts, column="timestamp", values=raw_ts.to_numpy(dtype=object),
         rule=_TIMESTAMP_RULE)
    instrument, empty = _text(frame[cols["instrument"]])
    _add(issues, empty, column="instrument", values=None, rule="instrument is empty")
    raw = frame[cols["price"]]
    price = _numbers(raw)
    _add(issues, ~np.isfinite(price), column="price", values=raw.to_numpy(dtype=object),
         rule="price must be a number")
    _add(issues, np.isfinite(price) & (price <= 0), column="price", values=price,
         rule="price must be greater than 0")
    ok = ~bad_ts & ~empty
    keys = pd.DataFrame({"t": _ns(ts), "i": instrument})
    dup = keys.duplicated(keep="first").to_numpy() & ok
    if dup.any():
        first_row = keys[ok].drop_duplicates(keep="first").reset_index().set_index(["t", "i"])["index"]
        for i in np.flatnonzero(dup):
            issues.append(Issue(int(i) + 1, "timestamp", ts.iloc[i].isoformat(),
                                f"a second price of {instrument[i]} at this time (first in row "
                                f"{int(first_row[(keys['t'].iloc[i], instrument[i])]) + 1}); "
                                "keep one"))
    _raise(issues, order=PRICE_COLUMNS, subject=subject)
    out = pd.DataFrame({"timestamp": ts, "instrument": pd.array(instrument, dtype=object),
                        "price": price})
    return out.sort_values(["timestamp", "instrument"], kind="stable").reset_index(drop=True)


def wide_to_long(prices: pd.DataFrame, *, close_time: time = CLOSE_TIME_UTC) -> pd.DataFrame:
    """A wide daily price table as a long feed, each close stamped at ``close_time`` UTC.

    Parameters
    ----------
    prices : DataFrame of shape (n_days, n_instruments)
        Indexed by date (a DatetimeIndex without time of day), one column per instrument, as
        :func:`engine.market.data_io.validate_prices` and ``load_bundled_prices`` return.
    close_time : datetime.time, default 21:00
        The UTC time each close is stamped at (see the module docstring).

    Returns
    -------
    DataFrame of shape (n_days * n_instruments - n_missing, 3)
        Columns :data:`PRICE_COLUMNS`, sorted by timestamp then instrument; missing prices are
        left out (the previous price keeps marking).
    """
    offset = pd.Timedelta(hours=close_time.hour, minutes=close_time.minute,
                          seconds=close_time.second)
    days = pd.DatetimeIndex(prices.index).normalize()
    stamps = (days.tz_localize("UTC") if days.tz is None else days.tz_convert("UTC")) + offset
    wide = prices.set_axis(stamps.as_unit("ns"), axis=0)
    wide.columns = [str(c) for c in wide.columns]
    long = wide.rename_axis(index="timestamp", columns="instrument").stack().rename("price")
    out = long.reset_index().astype({"price": float, "instrument": object})
    out = out[np.isfinite(out["price"].to_numpy())]
    return out.sort_values(["timestamp", "instrument"], kind="stable").reset_index(drop=True)


def read_price_feed(source: Source, *, filename: str | None = None) -> pd.DataFrame:
    """Read a price feed: the long layout, or a wide daily table (CSV, ``.csv.gz``, Parquet).

    A table whose columns include ``timestamp``, ``instrument`` and ``price`` is the long
    layout (:func:`validate_price_feed`); any other is read as a wide daily table
    (:func:`engine.market.data_io.validate_prices`) and stamped by :func:`wide_to_long`.

    Returns
    -------
    DataFrame
        As :func:`validate_price_feed`.

    Raises
    ------
    InputError
        A missing, unreadable or oversized file.
    ValidationError
        Every bad cell, by row and column.
    """
    from engine.market.data_io import validate_prices

    read = _read(source, filename=filename, subject="price feed")
    subject = f"price feed {read.name}"
    names = {str(c).strip().lower() for c in read.frame.columns}
    if set(PRICE_COLUMNS) <= names:
        return validate_price_feed(read.frame, subject=subject)
    return wide_to_long(validate_prices(read.frame, subject=subject))


def bundled_price_feed(*, instruments: list[str] | None = None, start: str | None = None,
                       end: str | None = None) -> pd.DataFrame:
    """The bundled S&P 500 daily closes (``engine.market.load_bundled_prices``) as a long feed.

    Parameters
    ----------
    instruments : list of str, optional
        Columns to keep (default all 21, the index ``SP500`` included).
    start, end : str, optional
        First and last date kept (ISO dates, inclusive).

    Returns
    -------
    DataFrame
        As :func:`wide_to_long`, closes stamped 21:00 UTC.

    Raises
    ------
    InputError
        An instrument that is not in the bundled data.
    """
    from engine.market.data_io import load_bundled_prices

    wide = load_bundled_prices()
    if instruments is not None:
        missing = [i for i in instruments if i not in wide.columns]
        if missing:
            raise InputError(f"instruments {missing} are not in the bundled prices; choose from "
                             f"{', '.join(map(str, wide.columns))}")
        wide = wide[instruments]
    wide = wide.loc[start:end]
    return wide_to_long(wide)
