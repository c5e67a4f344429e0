"""Tabular predictive models on learner feature frames: success, retention risk, forecasting.

Each model is a scikit-learn estimator that takes a feature frame (polars, e.g. from
:func:`learnpulse.features.learner_features` with extra columns joined) or a 2-D array, and
adds :meth:`~_FeatureModel.predict_frame`: one row per learner with ``learner_id``, ``value``,
``confidence``, ``model`` (name and version) and a human-readable ``reason``.

Reasons come from per-learner feature contributions by occlusion: the change in the model's
raw score (log-odds for classifiers, the score for the forecaster) when one feature is
replaced by its training median. That is exact for what it says ("how much this feature's
value, compared with a typical one, moved this prediction"), works for any model, and costs
one extra prediction per (learner, feature) that can matter: features the model does not use,
values already at the median and (gradient boosting) values on the median's side of every
split on their feature contribute exactly 0 and are not recomputed, and the rest go to the
model in one call (:mod:`learnpulse.models.occlusion`). A reason words the features with the
largest contributions as people read them (:data:`learnpulse.features.FEATURE_PHRASES`),
e.g. "58 days since the last submission (lowers P(pass)); accuracy 45% (lowers P(pass))";
other columns as ``name=value``.

Gradient boosting (``estimator="hgb"``, the default) was chosen by the numbers: on OULAD at
day 60 (``benchmarks/bench_oulad.py``, test presentation 2014B) it beats a standardised
logistic regression on the same features at-risk (0.768 vs 0.763, mean of 5 seeds) and
matches it for withdrawal (0.675 vs 0.674), with monotone constraints that keep its reasons
sensible. ``estimator="logistic"`` stays available (four times faster to fit).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from learnpulse.models.mastery import check_columns
from learnpulse.models.occlusion import splits_crossed, word_reasons

#: Version written in every prediction's ``model`` field (``"<name>/<version>"``) and in the
#: manifest of saved course models (:meth:`~learnpulse.models.course_fit.FittedCourseModels.save`),
#: which refuses to load models of another version as stale. Bump it whenever the models or
#: the meaning of a feature they read changes. 1.1: monotone in RISK_DIRECTIONS, reasons in
#: words. 1.2: accuracy, hints per attempt and mastery count evidence attempts only
#: (:func:`learnpulse.features.with_evidence`).
MODEL_VERSION = "1.2"
#: Boosting rounds of the gradient-boosting models.
MAX_ITER = 200
#: Learning rate of the gradient-boosting models.
LEARNING_RATE = 0.05
#: Leaves per tree of the forecaster.
MAX_LEAF_NODES = 15
#: Leaves per tree of the classifiers. Small trees generalise across presentations: on OULAD
#: at day 60, validated on 2013B -> 2013J, 2013J -> 2013B and learner-grouped 5-fold over
#: both (never the 2014B test presentation), 4 leaves against 15 raise the mean AUC from 0.637
#: to 0.661 for withdrawal and from 0.762 to 0.771 at-risk; 3 to 7 leaves score alike.
CLASSIFIER_MAX_LEAF_NODES = 4
#: Minimum learners per leaf: keeps trees from fitting a handful of learners.
MIN_SAMPLES_LEAF = 50
#: How many features a ``reason`` names.
N_REASONS = 3
#: Quantiles of the forecaster's interval (an 80% interval).
INTERVAL_QUANTILES = (0.1, 0.9)
#: Share of the training learners the forecaster holds out to calibrate its interval, and the
#: fewest held-out rows that calibrate (fewer: the quantile models' interval as it is).
CALIBRATION_SHARE = 0.2
MIN_CALIBRATION_ROWS = 30
#: Columns never used as features (identifiers).
ID_COLUMNS = ("course_id", "learner_id")
#: Features whose direction domain sense fixes: +1 if a higher value means a higher risk of
#: not succeeding (withdrawing, failing, scoring low), -1 if a lower one does. With
#: ``monotonic=True`` the gradient-boosting models are monotone in them (``monotonic_cst``),
#: so that no reason says e.g. "40 active days (raises risk)": unconstrained, 13% of the top-3
#: reasons of the success model on a simulated course and 33% of a logistic retention
#: model's point the wrong way (collinear activity counts offsetting each other). Counts whose
#: meaning is ambiguous (attempts, hints, tutor messages: struggling or diligent?) and course
#: properties are left free.
RISK_DIRECTIONS = {
    "accuracy": -1,
    "n_events": -1,
    "active_days": -1,
    "n_sessions": -1,
    "n_session_start": -1,
    "n_resource_view": -1,
    "n_assessment_submitted": -1,
    "n_recent_events": -1,
    "n_recent_submissions": -1,
    "mean_score": -1,
    "last_score": -1,
    "days_since_last_activity": 1,
    "days_since_last_submission": 1,
    "n_late": 1,
    "late_rate": 1,
    "mean_lateness_days": 1,
    "n_missed": 1,
    "missed_rate": 1,
    "missed_latest_due": 1,
}


def _feature_columns(frame: pl.DataFrame) -> list[str]:
    """Numeric columns of a frame that are not identifiers."""
    return [c for c, t in frame.schema.items() if c not in ID_COLUMNS and t.is_numeric()]


def _frame_matrix(frame: pl.DataFrame, names: list[str]) -> np.ndarray:
    """The columns ``names`` of a feature frame as floats, shape (n_rows, len(names)); a
    missing or non-numeric column is named."""
    check_columns(frame, tuple(names), "feature frame")
    schema = frame.schema
    wrong = {c: str(schema[c]) for c in names if not _numeric(schema[c])}
    if wrong:
        raise ValueError(f"feature columns must be numeric (or boolean); got {wrong}")
    return frame.select(pl.col(names).cast(pl.Float64)).to_numpy()


def _numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() or dtype in (pl.Boolean, pl.Null)


class _FeatureModel(BaseEstimator):
    """Shared machinery: frame/array input, fitted-state checks, occlusion reasons.

    Subclasses set ``name`` and implement ``_raw`` (the raw score whose changes explain a
    prediction, shape (n_samples,)) and ``_values`` (value, confidence and extra columns from
    the rows and their raw scores: each model prediction is made once).
    """

    name = "feature_model"
    _up, _down = "raises", "lowers"
    #: How the raw score moves with risk: +1 for a risk, -1 for P(pass) or a score.
    _risk_sign = 1

    def __init__(
        self,
        features: Sequence[str] | None = None,
        categorical: Sequence[str] = (),
        max_iter: int = MAX_ITER,
        learning_rate: float = LEARNING_RATE,
        max_leaf_nodes: int = MAX_LEAF_NODES,
        min_samples_leaf: int = MIN_SAMPLES_LEAF,
        n_reasons: int = N_REASONS,
        random_state: int | None = 0,
        monotonic: bool = True,
    ) -> None:
        self.features = features
        self.categorical = categorical
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.n_reasons = n_reasons
        self.random_state = random_state
        self.monotonic = monotonic

    def __setstate__(self, state: dict) -> None:
        # models pickled before version 1.1 had no constraints
        state.setdefault("monotonic", False)
        super().__setstate__(state)

    def _hgb_params(self) -> dict:
        names = list(self.feature_names_[self.used_])
        mask = [c in set(self.categorical) for c in names] if names else None
        return {
            "max_iter": self.max_iter,
            "learning_rate": self.learning_rate,
            "max_leaf_nodes": self.max_leaf_nodes,
            "min_samples_leaf": self.min_samples_leaf,
            "random_state": self.random_state,
            "categorical_features": mask if mask and any(mask) else None,
            "monotonic_cst": self._monotonic_cst(names) if self.monotonic else None,
        }

    def _monotonic_cst(self, names: list[str]) -> list[int] | None:
        """Per used feature, +1 / -1 / 0 from :data:`RISK_DIRECTIONS` (None: all free);
        categories have no order, so they stay free."""
        free = set(self.categorical)
        cst = [0 if c in free else self._risk_sign * RISK_DIRECTIONS.get(c, 0) for c in names]
        return cst if any(cst) else None

    def _fit_matrix(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        """Validate training input; remember feature names and medians (for reasons)."""
        if isinstance(X, pl.DataFrame):
            names = list(self.features) if self.features is not None else _feature_columns(X)
            X = _frame_matrix(X, names)
        else:
            names = None
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan", dtype=np.float64)
        names = names if names is not None else [f"x{i}" for i in range(X.shape[1])]
        self.feature_names_ = np.asarray(names, dtype=object)
        empty = np.isnan(X).all(axis=0)
        self.medians_ = np.nan_to_num(np.nanmedian(np.where(empty, 0.0, X), axis=0))
        # Only columns with two or more distinct values reach the model: constant ones carry
        # no information (and scikit-learn 1.9's histogram binning fails on them).
        spread = np.nanmax(np.where(empty, 0, X), axis=0) > np.nanmin(np.where(empty, 0, X), axis=0)
        self.used_ = spread & ~empty
        return X, y

    def _matrix(self, X) -> np.ndarray:
        """Prediction input as a float array, shape (n_samples, n_features_in_)."""
        check_is_fitted(self, "medians_")
        if isinstance(X, pl.DataFrame):
            X = _frame_matrix(X, list(self.feature_names_))
            if not X.shape[0]:
                return X.reshape(0, len(self.feature_names_))
        return validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)

    def contributions(self, X) -> np.ndarray:
        """Occlusion contributions: raw score minus raw score with feature j at its median.

        Only what can be non-zero is recomputed, in one model call: features the model does
        not use contribute 0, and so does a feature already at its median in a row.

        Parameters
        ----------
        X : polars.DataFrame or array-like, shape (n_samples, n_features_in_)

        Returns
        -------
        numpy.ndarray, shape (n_samples, n_features_in_)
        """
        X = self._matrix(X)
        return self._contributions(X, self._raw(X))

    def _contributions(self, X: np.ndarray, base: np.ndarray) -> np.ndarray:
        """:meth:`contributions` of the float matrix ``X`` whose raw scores are ``base``."""
        # A NaN feature differs from a (never NaN) median; equal values change nothing.
        crosses = splits_crossed(self.model_, self.used_, self.medians_, X)
        changed = (self.medians_ != X) & self.used_ & crosses
        out = np.zeros_like(X)
        rows, columns = np.nonzero(changed)
        if rows.size:
            typical = X[rows]
            typical[np.arange(rows.size), columns] = self.medians_[columns]
            out[rows, columns] = base[rows] - self._raw(typical)
        return out

    def predict_frame(self, features: pl.DataFrame) -> pl.DataFrame:
        """One prediction row per learner of ``features``.

        Parameters
        ----------
        features : polars.DataFrame, shape (n_learners, >= n_features_in_)
            Must have ``learner_id`` and the fitted feature columns; ``course_id`` is kept.

        Returns
        -------
        polars.DataFrame
            Shape (n_learners, 5 or more): [``course_id``], ``learner_id``, ``value``,
            ``confidence`` (0..1), ``model`` (``"<name>/<MODEL_VERSION>"``), ``reason``,
            plus model-specific columns (the forecaster's ``lower`` and ``upper``).
        """
        check_columns(features, ("learner_id",), "feature frame")
        X = self._matrix(features)
        raw = self._raw(X) if X.shape[0] else np.empty(0)
        value, confidence, extra = self._values(X, raw)
        keys = [c for c in ID_COLUMNS if c in features.columns]
        reasons = []
        if X.shape[0]:
            contrib = self._contributions(X, raw)
            reasons = word_reasons(
                self.feature_names_, X, contrib, self.n_reasons, self._up, self._down
            )
        return features.select(keys).with_columns(
            value=pl.Series(value, dtype=pl.Float64),
            confidence=pl.Series(confidence, dtype=pl.Float64),
            model=pl.lit(f"{self.name}/{MODEL_VERSION}"),
            reason=pl.Series(reasons, dtype=pl.String),
            **{k: pl.Series(v, dtype=pl.Float64) for k, v in extra.items()},
        )


def _n_iter(model) -> int:
    """Boosting rounds / solver iterations of a fitted model (1 for a constant model)."""
    last = model.steps[-1][1] if hasattr(model, "steps") else model
    return max(1, int(np.max(getattr(last, "n_iter_", 1))))


class _Classifier(ClassifierMixin, _FeatureModel):
    """Binary classifier: P(positive class) with occlusion reasons in log-odds."""

    def __init__(
        self,
        features: Sequence[str] | None = None,
        categorical: Sequence[str] = (),
        estimator: str = "hgb",
        max_iter: int = MAX_ITER,
        learning_rate: float = LEARNING_RATE,
        max_leaf_nodes: int = CLASSIFIER_MAX_LEAF_NODES,
        min_samples_leaf: int = MIN_SAMPLES_LEAF,
        n_reasons: int = N_REASONS,
        random_state: int | None = 0,
        monotonic: bool = True,
    ) -> None:
        super().__init__(
            features,
            categorical,
            max_iter,
            learning_rate,
            max_leaf_nodes,
            min_samples_leaf,
            n_reasons,
            random_state,
            monotonic,
        )
        self.estimator = estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = True
        return tags

    def _build(self):
        if self.estimator == "hgb":
            return HistGradientBoostingClassifier(**self._hgb_params())
        if self.estimator != "logistic":
            raise ValueError(f"estimator must be 'hgb' or 'logistic', not {self.estimator!r}")
        names = self.feature_names_[self.used_]
        cats = [i for i, c in enumerate(names) if c in set(self.categorical)]
        nums = [i for i in range(len(names)) if i not in cats]
        numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
        onehot = make_pipeline(
            SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
        )
        prep = ColumnTransformer([("num", numeric, nums), ("cat", onehot, cats)])
        return make_pipeline(prep, LogisticRegression(max_iter=1000))

    def fit(self, X, y) -> _Classifier:
        """Fit on features ``X`` (frame or array, shape (n_samples, n_features)) and labels
        ``y`` (shape (n_samples,), two classes; the second sorted class is "positive")."""
        X, y = self._fit_matrix(X, y)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) == 1:
            raise ValueError("y has only one class; need two classes (binary classification)")
        y_type = type_of_target(y, input_name="y")
        if y_type != "binary":
            raise ValueError(
                f"Only binary classification is supported. The type of the target is {y_type}."
            )
        model = self._build() if self.used_.any() else DummyClassifier(strategy="prior")
        self.model_ = model.fit(X[:, self.used_], y)
        self.n_iter_ = _n_iter(self.model_)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, 2), columns in ``classes_`` order."""
        X = self._matrix(X)
        return self.model_.predict_proba(X[:, self.used_])

    def decision_function(self, X) -> np.ndarray:
        """Log-odds of the positive class, shape (n_samples,)."""
        return self._raw(self._matrix(X))

    def predict(self, X) -> np.ndarray:
        """Most probable class, shape (n_samples,)."""
        proba = self.predict_proba(X)
        return self.classes_[(proba[:, 1] > 0.5).astype(int)]

    def _raw(self, X: np.ndarray) -> np.ndarray:
        p = np.clip(self.model_.predict_proba(X[:, self.used_])[:, 1], 1e-12, 1 - 1e-12)
        return np.log(p / (1 - p))

    def _values(self, X: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        p = 1 / (1 + np.exp(-raw))  # the probability whose log-odds _raw gave
        # Confidence: probability of the more likely outcome.
        return p, np.maximum(p, 1 - p), {}


class SuccessModel(_Classifier):
    """P(pass): probability that a learner passes the course (label 1 = passed).

    Parameters
    ----------
    features : sequence of str, optional
        Columns to use when fitted on a polars frame (default: every numeric non-id column).
    categorical : sequence of str
        Feature columns that are category codes (native categories in gradient boosting,
        one-hot in the logistic model).
    estimator : {"hgb", "logistic"}
        HistGradientBoostingClassifier, or standardised logistic regression.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf : see the module constants
        Gradient-boosting hyperparameters.
    n_reasons : int
        Features named in each ``reason``.
    random_state : int or None
    monotonic : bool
        Constrain gradient boosting to the directions of :data:`RISK_DIRECTIONS` (the
        logistic estimator is never constrained).
    """

    name = "success"
    _up, _down = "raises P(pass)", "lowers P(pass)"
    _risk_sign = -1


class RetentionRiskModel(_Classifier):
    """P(withdraw): dropout risk with the top reasons (label 1 = withdrew).

    Parameters are those of :class:`SuccessModel`. The ``reason`` of each learner names the
    features whose values most raise (or lower) their risk compared with a typical learner.
    """

    name = "retention_risk"
    _up, _down = "raises risk", "lowers risk"


class PerformanceForecaster(RegressorMixin, _FeatureModel):
    """Next assessment score with an interval (quantile gradient boosting).

    The point forecast minimises absolute error (a median forecast); ``lower``/``upper`` come
    from two quantile models at :data:`INTERVAL_QUANTILES`, conformalised (Romano, Patterson
    & Candes 2019, CQR): fitted on all but a ``calibration`` share of the learners, then
    widened (or narrowed) by the margin that makes the held-out learners' scores fall inside
    as often as the nominal coverage says. Unconformalised, the 80% interval held 76% of
    the next-TMA scores of OULAD test learners. Parameters are those of
    :class:`SuccessModel` except ``estimator`` (always gradient boosting) plus ``quantiles``
    and ``calibration`` (0: no calibration).
    """

    name = "performance_forecast"
    _up, _down = "raises forecast", "lowers forecast"
    _risk_sign = -1

    def __init__(
        self,
        features: Sequence[str] | None = None,
        categorical: Sequence[str] = (),
        quantiles: tuple[float, float] = INTERVAL_QUANTILES,
        max_iter: int = MAX_ITER,
        learning_rate: float = LEARNING_RATE,
        max_leaf_nodes: int = MAX_LEAF_NODES,
        min_samples_leaf: int = MIN_SAMPLES_LEAF,
        n_reasons: int = N_REASONS,
        random_state: int | None = 0,
        monotonic: bool = True,
        calibration: float = CALIBRATION_SHARE,
    ) -> None:
        super().__init__(
            features,
            categorical,
            max_iter,
            learning_rate,
            max_leaf_nodes,
            min_samples_leaf,
            n_reasons,
            random_state,
            monotonic,
        )
        self.quantiles = quantiles
        self.calibration = calibration

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X, y, groups=None) -> PerformanceForecaster:
        """Fit on features ``X`` (shape (n_samples, n_features)) and scores ``y`` (n_samples,).

        ``groups`` (shape (n_samples,)) says whose rows are whose, so that the interval is
        calibrated on learners the quantile models never saw; default: the ``learner_id``
        column of a frame ``X``, else every row its own group.
        """
        if groups is None and isinstance(X, pl.DataFrame) and "learner_id" in X.columns:
            groups = X.get_column("learner_id").to_numpy()
        X, y = self._fit_matrix(X, y)
        y = y.astype(np.float64)
        self.y_range_ = (float(y.min()), float(y.max()))
        self.model_ = self._regressor("absolute_error").fit(X[:, self.used_], y)
        self.n_iter_ = _n_iter(self.model_)
        fitted, held_out = self._calibration_split(len(y), groups)
        self.bounds_ = [
            self._regressor(q).fit(X[fitted][:, self.used_], y[fitted]) for q in self.quantiles
        ]
        self.interval_margin_ = 0.0
        if held_out.size:
            lo, hi = self._quantile_bounds(X[held_out]).T
            misses = np.maximum(lo - y[held_out], y[held_out] - hi)
            n, coverage = held_out.size, self.quantiles[1] - self.quantiles[0]
            level = min(1.0, np.ceil((n + 1) * coverage) / n)
            self.interval_margin_ = float(np.quantile(misses, level, method="higher"))
        return self

    def _calibration_split(self, n: int, groups) -> tuple[np.ndarray, np.ndarray]:
        """Rows the quantile models fit on and rows that calibrate them (maybe none)."""
        every = np.arange(n)
        if not 0 < self.calibration < 1 or n * self.calibration < MIN_CALIBRATION_ROWS:
            return every, every[:0]
        groups = every if groups is None else np.asarray(groups)
        split = GroupShuffleSplit(1, test_size=self.calibration, random_state=self.random_state)
        fitted, held_out = next(split.split(every, groups=groups))
        if held_out.size < MIN_CALIBRATION_ROWS:
            return every, every[:0]
        return fitted, held_out

    def _regressor(self, loss: str | float):
        """Median (``"absolute_error"``) or quantile ``loss`` model; a constant without data."""
        if not self.used_.any():
            if loss == "absolute_error":
                return DummyRegressor(strategy="median")
            return DummyRegressor(strategy="quantile", quantile=loss)
        if loss == "absolute_error":
            return HistGradientBoostingRegressor(loss=loss, **self._hgb_params())
        return HistGradientBoostingRegressor(loss="quantile", quantile=loss, **self._hgb_params())

    def predict(self, X) -> np.ndarray:
        """Point forecast, shape (n_samples,), clipped to the training range."""
        return self._raw(self._matrix(X))

    def predict_interval(self, X) -> np.ndarray:
        """Interval at ``quantiles``, shape (n_samples, 2), always containing the forecast."""
        X = self._matrix(X)
        return self._interval(X, self._raw(X))

    def _quantile_bounds(self, X: np.ndarray) -> np.ndarray:
        """The quantile models' (lower, upper), shape (n_samples, 2), before calibration."""
        return np.column_stack([m.predict(X[:, self.used_]) for m in self.bounds_])

    def _interval(self, X: np.ndarray, point: np.ndarray) -> np.ndarray:
        margin = getattr(self, "interval_margin_", 0.0)  # 0 for models pickled before it
        lo, hi = self._quantile_bounds(X).T
        lo, hi = np.clip(lo - margin, *self.y_range_), np.clip(hi + margin, *self.y_range_)
        return np.column_stack([np.minimum(lo, point), np.maximum(hi, point)])

    def _raw(self, X: np.ndarray) -> np.ndarray:
        return np.clip(self.model_.predict(X[:, self.used_]), *self.y_range_)

    def _values(self, X: np.ndarray, point: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        if not X.shape[0]:
            return np.empty(0), np.empty(0), {"lower": np.empty(0), "upper": np.empty(0)}
        bounds = self._interval(X, point)
        span = max(self.y_range_[1] - self.y_range_[0], 1e-12)
        # Confidence: 1 - interval width as a share of the training score range.
        confidence = np.clip(1 - (bounds[:, 1] - bounds[:, 0]) / span, 0, 1)
        return point, confidence, {"lower": bounds[:, 0], "upper": bounds[:, 1]}
