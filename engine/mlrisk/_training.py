"""Built-in scikit-learn models, and loading a model saved with skops (never pickle)."""

from __future__ import annotations

import io
import zipfile

import numpy as np

from engine.errors import InputError
from engine.limits import check_zip, limits, too_large
from engine.mlrisk._data import PreparedData

__all__ = ["MODEL_KINDS", "TRUSTED_EXTRA_TYPES", "build_model", "train_model", "check_skops_archive", "load_skops_model",
           "predict_scores", "model_description"]

MODEL_KINDS = ("logistic_regression", "random_forest", "gradient_boosting")

#: Types skops does not trust by default that belong to scikit-learn/numpy models we build
#: ourselves; anything else in an uploaded file is refused.
TRUSTED_EXTRA_TYPES: frozenset[str] = frozenset({
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.tree._tree.Tree",
})

#: Random forest size: 100 trees, leaves of at least 5 rows (smaller trees, faster, no
#: material loss of AUC on the bundled data).
FOREST_PARAMS = {"n_estimators": 100, "min_samples_leaf": 5, "max_features": "sqrt"}


def build_model(kind: str, *, task: str, numeric: tuple[str, ...], categorical: tuple[str, ...],
                seed: int, n_jobs: int = 2):
    """An unfitted pipeline: median-impute numeric, one-hot categorical, then the estimator.

    Parameters
    ----------
    kind : {"logistic_regression", "random_forest", "gradient_boosting"}
        Logistic regression (linear regression for a regressor, both on standardised inputs);
        random forest (:data:`FOREST_PARAMS`); scikit-learn's histogram gradient boosting.
    task : {"classification", "regression"}
    seed : int
        ``random_state`` of the estimator.

    Raises
    ------
    InputError
        For an unknown kind.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cls = task == "classification"
    if kind == "logistic_regression":
        est = LogisticRegression(max_iter=1000, random_state=seed) if cls else LinearRegression()
        scale = True
    elif kind == "random_forest":
        est = (RandomForestClassifier if cls else RandomForestRegressor)(
            random_state=seed, n_jobs=n_jobs, **FOREST_PARAMS)
        scale = False
    elif kind == "gradient_boosting":
        est = (HistGradientBoostingClassifier if cls else HistGradientBoostingRegressor)(random_state=seed)
        scale = False
    else:
        raise InputError(f"unknown model {kind!r}; choose one of {', '.join(MODEL_KINDS)}")
    num_steps = [SimpleImputer(strategy="median")] + ([StandardScaler()] if scale else [])
    parts = []
    if numeric:
        parts.append(("numeric", make_pipeline(*num_steps), list(numeric)))
    if categorical:
        parts.append(("categorical", make_pipeline(
            SimpleImputer(strategy="most_frequent"),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False)), list(categorical)))
    return Pipeline([("prepare", ColumnTransformer(parts)), ("model", est)])


def train_model(kind: str, *, data: PreparedData, seed: int, n_jobs: int = 2):
    """Fit :func:`build_model` on the training split; prediction then runs single-threaded so the
    summation order, hence every bit of the scores, is reproducible."""
    model = build_model(kind, task=data.task, numeric=data.numeric_features,
                        categorical=data.categorical_features, seed=seed, n_jobs=n_jobs)
    model.fit(data.X_train, data.y_train)
    est = model.named_steps["model"]
    if hasattr(est, "n_jobs"):
        est.set_params(n_jobs=1)
    return model


def check_skops_archive(content: bytes, filename: str) -> None:
    """Bound a skops file before skops reads it (raises InputError naming the limit and its
    setting): it is a zip whose ``schema.json`` skops turns
    into Python objects, so its directory is checked (members, total uncompressed size, each
    member's compression ratio) and ``schema.json`` gets its own, smaller bound. :mod:`zipfile`
    (which skops uses) never inflates a member past the size its directory declares."""
    lim = limits()
    if len(content) > lim.max_model_bytes:
        raise too_large(filename, what="the model file", field="max_model_bytes", value=len(content), lim=lim)
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputError(f"{filename} is not a model saved with skops.io.dump (not a zip archive: {exc}). "
                         "Pickle files are never loaded.") from exc
    with archive:
        check_zip(archive, name=filename, limit_field="max_model_bytes")
        try:
            schema = archive.getinfo("schema.json")
        except KeyError as exc:
            raise InputError(f"{filename} is not a model saved with skops.io.dump (no schema.json). "
                             "Pickle files are never loaded.") from exc
        if schema.file_size > lim.max_model_schema_bytes:
            raise too_large(filename, what="its schema.json (the object graph skops rebuilds)",
                            field="max_model_schema_bytes", value=schema.file_size, lim=lim)


def load_skops_model(content: bytes, *, filename: str = "model.skops"):
    """Load a model saved with ``skops.io.dump``; never unpickles.

    The file is bounded before skops touches it (:mod:`engine.limits`: ``max_model_bytes`` for
    the whole archive, ``max_model_schema_bytes`` for its ``schema.json``, ``max_ratio`` for
    each member, ``max_zip_members``), so a decompression bomb is refused at once.

    Raises
    ------
    InputError
        If the file exceeds one of those limits (the message names its setting), is not a skops
        file, or holds types that are neither trusted by skops nor in
        :data:`TRUSTED_EXTRA_TYPES` (they are named), or the object has no ``predict``.
    """
    import skops.io as sio

    check_skops_archive(content, filename)

    try:
        untrusted = sio.get_untrusted_types(data=content)
    except Exception as exc:  # noqa: BLE001 - any failure to read means "not a skops file"
        raise InputError(f"{filename} is not a model saved with skops.io.dump ({type(exc).__name__}: {exc}). "
                         "Pickle files are never loaded.") from exc
    refused = sorted(set(untrusted) - TRUSTED_EXTRA_TYPES)
    if refused:
        raise InputError(f"{filename} holds untrusted types {refused}; only scikit-learn models "
                         "without custom code are accepted.")
    try:
        model = sio.loads(content, trusted=list(untrusted))
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{filename} could not be loaded with skops: {exc}") from exc
    if not hasattr(model, "predict"):
        raise InputError(f"{filename} holds a {type(model).__name__}, which has no predict method.")
    return model


def predict_scores(model, *, X, task: str, positive_index: int = 1) -> np.ndarray:
    """Probability of the positive class (classifier) or the prediction (regressor).

    Returns
    -------
    ndarray of shape (n_samples,)

    Raises
    ------
    InputError
        If the model cannot predict on these columns (e.g. a loaded model trained on others).
    """
    try:
        if task == "classification":
            if not hasattr(model, "predict_proba"):
                raise InputError("the model has no predict_proba; a classifier must give probabilities")
            return np.asarray(model.predict_proba(X), dtype=float)[:, positive_index]
        return np.asarray(model.predict(X), dtype=float).ravel()
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - a foreign model's failure is the user's input problem
        raise InputError(f"the model could not predict on the selected features "
                         f"{list(X.columns)[:10]}…: {type(exc).__name__}: {exc}") from exc


def model_description(model) -> dict:
    """Class name and the non-default parameters of the final estimator, for the reports."""
    est = model.named_steps["model"] if hasattr(model, "named_steps") and "model" in model.named_steps else model
    params = {k: v for k, v in sorted(est.get_params(deep=False).items())
              if isinstance(v, (int, float, str, bool)) or v is None}
    return {"estimator": type(est).__name__, "parameters": params}
