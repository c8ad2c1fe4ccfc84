"""Pool ingest: loan tapes (CSV, Parquet, JSON, Excel) → validated columnar pools.

``read_pool`` reads a file or upload within the input limits of :mod:`engine.limits` (size,
rows, columns, cell length, decompression ratio, JSON depth; text in UTF-8, UTF-16, cp1252 or
latin-1), recognises its layout (native, Lending Club, loan-record) or applies a user's
:class:`ColumnMapping` (suggested by :func:`suggest_mapping`, previewed by :func:`preview_pool`),
maps it to the canonical columns of :data:`engine.ingest.models.ASSET_COLUMNS`, validates every
column at once (one :class:`engine.errors.ValidationError` lists every bad cell) and fills missing
behavioural values from a sourced assumption table, reporting every fill.

Ingest owns the canonical tape schema (:mod:`engine.ingest.models`) and imports nothing from
:mod:`engine.credit`; the credit engine builds on it.
"""

from ._assumptions import VALUE_FIELDS, AssumptionTable, load_assumptions
from .models import (
    ASSET_COLUMNS,
    BEHAVIOURAL_COLUMNS,
    REQUIRED_COLUMNS,
    Asset,
    AssetClass,
    AssetStatus,
    Pool,
    PoolData,
    RateType,
)
from ._mappings import (
    FORMATS,
    LC_DEFAULT_CUTOFF,
    LC_STATUS,
    LOAN_TYPE_TO_ASSET_CLASS,
    MONTHLY_SCHEDULES,
    detect_format,
)
from ._pool import BAD_ROWS, PoolPreview, preview_pool, read_pool
from ._usermap import (
    CATEGORY_CODES,
    CHECK,
    MAX_VALUE_MAP,
    MAPPED_FORMAT,
    ColumnMapping,
    DateDerivation,
    FieldSource,
    MappingSuggestion,
    apply_mapping,
    column_kinds,
    distinct_values,
    suggest_codes,
    suggest_mapping,
    whole_months,
)
from ._readers import TableRead, read_csv_bytes, read_source, read_table

__all__ = [
    "read_pool",
    "preview_pool",
    "PoolPreview",
    "BAD_ROWS",
    "ColumnMapping",
    "FieldSource",
    "DateDerivation",
    "MappingSuggestion",
    "MAPPED_FORMAT",
    "CATEGORY_CODES",
    "CHECK",
    "MAX_VALUE_MAP",
    "apply_mapping",
    "suggest_mapping",
    "column_kinds",
    "distinct_values",
    "suggest_codes",
    "whole_months",
    "read_table",
    "read_source",
    "read_csv_bytes",
    "TableRead",
    "detect_format",
    "load_assumptions",
    "AssumptionTable",
    "VALUE_FIELDS",
    "FORMATS",
    "LC_DEFAULT_CUTOFF",
    "LC_STATUS",
    "LOAN_TYPE_TO_ASSET_CLASS",
    "MONTHLY_SCHEDULES",
    "ASSET_COLUMNS",
    "BEHAVIOURAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "Asset",
    "AssetClass",
    "AssetStatus",
    "Pool",
    "PoolData",
    "RateType",
]
