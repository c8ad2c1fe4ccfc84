"""Datasets: the bundled UCI credit-card default data, uploaded tables, and model-ready splits.

Feature encoding (documented choice): numeric columns are used as they are (missing values
imputed with the training median inside the model pipeline); non-numeric columns (text,
category, boolean) and the columns named in ``categorical`` are one-hot encoded with
scikit-learn's ``OneHotEncoder(handle_unknown="ignore")`` after imputing the most frequent level.
A column is refused, with its reason, when it is entirely missing, a date/time or other
non-tabular type, or a categorical with more than :data:`MAX_CATEGORY_LEVELS` levels.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.bundled import data_file
from engine.errors import InputError, Issue, ValidationError
from engine.ingest import read_source

__all__ = [
    "DEFAULT_DATASET_FOLDER",
    "DEFAULT_DATASET_NAME",
    "DEFAULT_TARGET",
    "DEFAULT_SUBGROUPS",
    "TAIWAN_COLUMNS",
    "MAX_CATEGORY_LEVELS",
    "REGRESSION_MIN_LEVELS",
    "PreparedData",
    "default_dataset_path",
    "default_dataset_bytes",
    "load_default_dataset",
    "read_table",
    "prepare_data",
]

#: The bundled data set's folder and file under the bundled data (see :mod:`engine.bundled`).
DEFAULT_DATASET_FOLDER = "ml_taiwan_credit_default"
DEFAULT_DATASET_NAME = "default_of_credit_card_clients_raw.csv.gz"
DEFAULT_TARGET = "default_payment_next_month"
DEFAULT_SUBGROUPS = ("SEX", "EDUCATION", "MARRIAGE")

#: UCI's generic header X1 … X23, Y -> the documented names (Yeh & Lien 2009; PROVENANCE.md).
TAIWAN_COLUMNS: dict[str, str] = {
    "X1": "LIMIT_BAL", "X2": "SEX", "X3": "EDUCATION", "X4": "MARRIAGE", "X5": "AGE",
    "X6": "PAY_0", "X7": "PAY_2", "X8": "PAY_3", "X9": "PAY_4", "X10": "PAY_5", "X11": "PAY_6",
    **{f"X{11 + i}": f"BILL_AMT{i}" for i in range(1, 7)},
    **{f"X{17 + i}": f"PAY_AMT{i}" for i in range(1, 7)},
    "Y": DEFAULT_TARGET,
}
MAX_CATEGORY_LEVELS = 50
#: A numeric target with more distinct values than this is a regression target.
REGRESSION_MIN_LEVELS = 10


def default_dataset_path() -> Path:
    """The bundled UCI file, from a checkout or an installed wheel.

    Raises
    ------
    StoreError
        If the bundled data is missing (a broken installation).
    """
    return data_file(DEFAULT_DATASET_FOLDER, DEFAULT_DATASET_NAME)


def default_dataset_bytes() -> bytes:
    """The bundled file's bytes (hashed into the evidence manifest)."""
    return default_dataset_path().read_bytes()


def load_default_dataset(*, row_limit: int | None = None, seed: int = 42) -> pd.DataFrame:
    """The UCI "default of credit card clients" table with its documented column names.

    Parameters
    ----------
    row_limit : int, optional
        Keep a seeded random sample of this many rows (for quick runs); all 30,000 when absent.
    seed : int, default 42
        Seed of the sample.

    Returns
    -------
    DataFrame of shape (n_rows, 24)
        LIMIT_BAL, SEX, …, PAY_AMT6 and ``default_payment_next_month`` (1 = default). The row
        identifier ``ID`` is dropped: it is not a feature.

    References
    ----------
    Yeh, I. C., & Lien, C. H. (2009). Expert Systems with Applications 36(2), 2473–2480.
    """
    frame = pd.read_csv(default_dataset_path()).rename(columns=TAIWAN_COLUMNS).drop(columns=["ID"])
    return _limit(frame, row_limit, seed)


def _limit(frame: pd.DataFrame, row_limit: int | None, seed: int) -> pd.DataFrame:
    if row_limit is None or row_limit >= len(frame):
        return frame.reset_index(drop=True)
    return frame.sample(n=row_limit, random_state=seed).sort_index().reset_index(drop=True)


def read_table(content: bytes, *, filename: str, row_limit: int | None = None, seed: int = 42) -> pd.DataFrame:
    """Read an uploaded CSV or Parquet table within the input limits.

    The bytes go through the pool readers of :mod:`engine.ingest` (:func:`read_source`), so an
    upload meets the same limits (:mod:`engine.limits`: size, rows, columns, cell length, gzip
    ratio) and the same text encodings (UTF-8 with or without BOM, UTF-16, cp1252, latin-1).

    Parameters
    ----------
    content : bytes
        The file's bytes.
    filename : str
        Its name; the extension chooses the reader (``.csv``, ``.csv.gz``, ``.txt``,
        ``.parquet``, ``.pq``).
    row_limit : int, optional
        Keep a seeded random sample of this many rows.
    seed : int, default 42
        Seed of the sample.

    Returns
    -------
    DataFrame of shape (n_rows, n_columns)

    Raises
    ------
    InputError
        If the extension is not supported, the file is not a table with a header, at least
        two columns and one data row, its text cannot be decoded, or it exceeds an input limit
        (the message names the setting that raises it).
    ValidationError
        An empty file, a header without rows, column names over 256 characters or given twice.
    """
    if not filename.lower().endswith((".parquet", ".pq", ".csv", ".csv.gz", ".txt")):
        raise InputError(f"{filename}: unsupported file type; upload a CSV (.csv, .csv.gz) or Parquet (.parquet) table.")
    frame = read_source(content, filename=filename, subject="data file",
                        kinds=("csv", "csv.gz", "parquet")).frame
    if frame.shape[1] < 2:
        raise InputError(f"{filename} is not a table with a target and features: found "
                         f"{frame.shape[1]} column(s) and {len(frame)} row(s). Upload a CSV with a "
                         "header row, or a Parquet file.")
    return _limit(frame, row_limit, seed)


@dataclass(frozen=True)
class PreparedData:
    """A validated table split into training and test parts.

    ``X_train``/``X_test`` hold the raw feature columns (encoding happens in the model pipeline);
    ``groups_test`` holds the subgroup columns of the test rows; ``y_*`` are 0/1 for a classifier
    (1 = positive class) and floats for a regressor.
    """

    task: str
    target: str
    positive_class: object
    features: tuple[str, ...]
    numeric_features: tuple[str, ...]
    categorical_features: tuple[str, ...]
    subgroups: tuple[str, ...]
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray
    groups_test: pd.DataFrame
    n_rows: int
    test_index: np.ndarray

    @property
    def train_stats(self) -> dict[str, dict[str, float]]:
        """Per numeric feature: mean, median, std (ddof=0), min, max of the training split."""
        out = {}
        for col in self.numeric_features:
            x = self.X_train[col].to_numpy(dtype=float)
            out[col] = {
                "mean": float(np.nanmean(x)), "median": float(np.nanmedian(x)),
                "std": float(np.nanstd(x)), "min": float(np.nanmin(x)), "max": float(np.nanmax(x)),
            }
        return out


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def infer_task(y: pd.Series) -> str:
    """``regression`` for a numeric target with more than 10 distinct values, else ``classification``."""
    if _is_numeric(y) and y.nunique(dropna=True) > REGRESSION_MIN_LEVELS:
        return "regression"
    return "classification"


def _same_value(series: pd.Series, value: object) -> pd.Series:
    """Rows equal to ``value``, comparing numbers as numbers and everything else as text."""
    if _is_numeric(series):
        try:
            return series == float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return pd.Series(False, index=series.index)
    return series.astype(str) == str(value)


def prepare_data(
    frame: pd.DataFrame,
    *,
    target: str,
    features: list[str] | None = None,
    categorical: list[str] | tuple[str, ...] = (),
    subgroups: list[str] | tuple[str, ...] = (),
    task: str | None = None,
    positive_class: object = None,
    test_size: float = 0.2,
    seed: int = 42,
) -> PreparedData:
    """Validate the columns and split the table with a seeded (stratified for classifiers) split.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
    target : str
        The column to predict.
    features : list of str, optional
        Feature columns; default every column except the target and the subgroup columns'
        duplicates are kept (all but the target).
    categorical : list of str
        Numeric-coded columns to one-hot encode as well.
    subgroups : list of str
        Columns whose levels define subgroups (need not be features).
    task : {"classification", "regression"}, optional
        Inferred from the target when absent (:func:`infer_task`).
    positive_class : optional
        For a classifier: the level counted as 1. Required when the target has more than two
        levels; default the larger of the two sorted levels.

    Raises
    ------
    ValidationError
        Listing every problem: a missing or constant target, missing target values, unknown
        columns, all-missing columns, unusable types, too many categorical levels.
    """
    issues: list[Issue] = []
    columns = list(frame.columns)
    if target not in columns:
        raise ValidationError([Issue(None, target, None, f"target column not in the table; columns are {columns[:30]}")],
                              subject="data")
    y_raw = frame[target]
    n_missing = int(y_raw.isna().sum())
    if n_missing == len(frame):
        issues.append(Issue(None, target, None, "target is entirely missing"))
    elif n_missing:
        first = int(np.flatnonzero(y_raw.isna().to_numpy())[0]) + 1
        issues.append(Issue(first, target, None, f"target has {n_missing} missing value(s); drop or fill those rows"))
    if y_raw.nunique(dropna=True) < 2 and n_missing < len(frame):
        issues.append(Issue(None, target, y_raw.dropna().iloc[0] if len(y_raw.dropna()) else None,
                            "target is constant; a model needs at least two target values"))
    feats = list(features) if features is not None else [c for c in columns if c != target]
    if not feats:
        issues.append(Issue(None, None, None, "no feature columns selected"))
    for col in feats:
        if col == target:
            issues.append(Issue(None, col, None, "the target cannot also be a feature"))
    for col in [*feats, *subgroups]:
        if col not in columns:
            issues.append(Issue(None, col, None, "column not in the table"))
    cat_forced = set(categorical)
    numeric, categorical_out = [], []
    for col in feats:
        if col not in columns or col == target:
            continue
        s = frame[col]
        if s.isna().all():
            issues.append(Issue(None, col, None, "column is entirely missing (all NaN); drop it from the features"))
            continue
        if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s) \
                or pd.api.types.is_complex_dtype(s) or isinstance(s.dtype, pd.PeriodDtype):
            issues.append(Issue(None, col, str(s.dtype), "unusable column type for a model; derive a numeric feature from it"))
            continue
        if _is_numeric(s) and col not in cat_forced:
            numeric.append(col)
            continue
        if s.dtype == object and s.dropna().map(lambda v: isinstance(v, (list, dict, set, tuple, bytes))).any():
            issues.append(Issue(None, col, str(s.dtype), "unusable column type: cells hold lists, mappings or bytes"))
            continue
        levels = s.nunique(dropna=True)
        if levels > MAX_CATEGORY_LEVELS:
            issues.append(Issue(None, col, levels, f"categorical column with {levels} levels; at most "
                                f"{MAX_CATEGORY_LEVELS} can be one-hot encoded (drop it or group its levels)"))
            continue
        categorical_out.append(col)
    for col in subgroups:
        if col in columns and frame[col].isna().all():
            issues.append(Issue(None, col, None, "subgroup column is entirely missing"))
    if issues:
        raise ValidationError(issues, subject="data")

    resolved_task = task or infer_task(y_raw)
    if resolved_task == "classification":
        levels = sorted(pd.unique(y_raw.dropna()), key=lambda v: (str(type(v)), v))
        if positive_class is None:
            if len(levels) > 2:
                raise ValidationError([Issue(None, target, len(levels),
                    f"classification target has {len(levels)} levels; name a positive_class "
                    "(one-vs-rest) or set task to regression")], subject="data")
            positive = levels[-1]
        else:
            mask = _same_value(y_raw, positive_class)
            if not mask.any():
                raise ValidationError([Issue(None, target, positive_class,
                    f"positive_class not found among the target's levels {levels[:20]}")], subject="data")
            positive = positive_class
        y = _same_value(y_raw, positive).to_numpy(dtype=np.int64)
        if y.min() == y.max():
            raise ValidationError([Issue(None, target, positive_class, "every row is in the same class after choosing the positive class")], subject="data")
    else:
        if not _is_numeric(y_raw):
            raise ValidationError([Issue(None, target, str(y_raw.dtype), "a regression target must be numeric")], subject="data")
        positive = None
        y = y_raw.to_numpy(dtype=float)

    from sklearn.model_selection import train_test_split

    idx = np.arange(len(frame))
    stratify = y if resolved_task == "classification" and np.bincount(y).min() >= 2 else None
    try:
        tr, te = train_test_split(idx, test_size=test_size, random_state=seed, stratify=stratify)
    except ValueError as exc:
        raise InputError(f"cannot split {len(frame)} rows with test_size={test_size}: {exc}") from exc
    tr, te = np.sort(tr), np.sort(te)
    X = frame[numeric + categorical_out].copy()
    for col in categorical_out:
        X[col] = pd.Series([np.nan if pd.isna(v) else str(v) for v in X[col]], index=X.index, dtype=object)
    return PreparedData(
        task=resolved_task,
        target=target,
        positive_class=positive.item() if hasattr(positive, "item") else positive,
        features=tuple(numeric + categorical_out),
        numeric_features=tuple(numeric),
        categorical_features=tuple(categorical_out),
        subgroups=tuple(subgroups),
        X_train=X.iloc[tr].reset_index(drop=True),
        X_test=X.iloc[te].reset_index(drop=True),
        y_train=y[tr],
        y_test=y[te],
        groups_test=frame[list(subgroups)].iloc[te].reset_index(drop=True),
        n_rows=len(frame),
        test_index=te,
    )


def sha256_bytes(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
