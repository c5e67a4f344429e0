"""Models trained once on a course with known outcomes, reused by ``predict_all``.

Success, retention risk and performance forecasting need labels, which a running course does
not have yet. :func:`fit_course_models` trains them on a course whose outcomes are known (a
previous presentation, or a simulated course with another seed): learners.attributes JSON
holds ``final_result`` (Pass / Distinction / Fail / Withdrawn, as OULAD and the simulator
write it).

The models must work at any point of a running course, so the training frame stacks the
learners' features at several cut-offs (:data:`TRAINING_DAYS` after the course start, the
first activity): at each cut-off, every learner registered and not yet withdrawn is a row
with :func:`learnpulse.features.learner_features` before it, labelled with their final
result and, for the forecaster, the score of their next assessment after the cut-off. The
mastery model (BKT) is fitted on all the course's attempts, and the learner clusters on the
same stacked rows (so "very active" means compared with learners at every stage of a course,
and fitting k-means, ~4 s for 10,000 learners, is not redone at every ``predict_all``).

Saved models record the :data:`~learnpulse.models.predictive.MODEL_VERSION` they were fitted
under, which the code bumps when a feature they read changes meaning: models of another
version would read today's features as yesterday's and their predictions drift, so
:meth:`FittedCourseModels.load` refuses them (:class:`StaleModelsError`) unless asked not to,
and :func:`check_saved_models` lists the folders that need fitting again. Saved models that
are stale or do not load reach ``predict_all`` as :class:`UnusableModels` (the server's loader
makes them), so that its predictions say why they are not used.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import joblib
import polars as pl
import sklearn
from sklearn.exceptions import InconsistentVersionWarning
from threadpoolctl import threadpool_limits

from learnpulse import __version__
from learnpulse.datasets.base import CourseData
from learnpulse.datasets.oulad_features import oulad_outcomes
from learnpulse.features import KEYS, NON_ACTIVITY_KINDS, learner_features, with_evidence
from learnpulse.files import replacing, sha256, write_text
from learnpulse.models.clusters import LearnerClusters
from learnpulse.models.knowledge_tracing import BKT
from learnpulse.models.mastery import fit_mastery_model
from learnpulse.models.predictive import (
    MODEL_VERSION,
    PerformanceForecaster,
    RetentionRiskModel,
    SuccessModel,
)

#: Days after the course start at which training features are cut (rows are stacked).
TRAINING_DAYS = (14, 28, 42, 56, 70)
#: Features of the success, retention and forecast models (a focused subset of
#: ``FEATURE_COLUMNS``: every prediction explains itself by occlusion, one extra model
#: evaluation per feature, so fewer features make ``predict_all`` faster).
COURSE_MODEL_FEATURES = (
    "accuracy",
    "hints_per_attempt",
    "n_attempt",
    "n_events",
    "active_days",
    "n_sessions",
    "n_recent_events",
    "n_recent_submissions",
    "days_since_last_activity",
    "days_since_last_submission",
    "days_registered",
    "late_rate",
    "mean_score",
    "last_score",
)
#: Estimator settings of each labelled model, chosen by the numbers: trained on a simulated
#: 2,000-learner course (seed 2), tested on another (seed 3), features at every training
#: cut-off, one thread. Success: gradient boosting with 100 rounds, AUC 0.870 (50 rounds
#: 0.849, logistic 0.819). Retention: logistic, AUC 0.755 (boosting 0.753) at a fifth of the
#: prediction time. Forecast: 25 rounds, MAE 18.5 points (100 rounds 18.5) at a quarter of
#: the time. Those were measured while the score features still averaged attempts' 0/1
#: scores with 0-100 quiz scores; with quiz scores only (same setup): success AUC 0.855,
#: retention 0.759, forecast MAE 18.4. Every prediction explains itself by occlusion (one
#: model evaluation per feature and learner whose value is not the median), so each round
#: costs ``predict_all`` time. Since 2026-12-03 the boosted models are monotone in the
#: features of ``predictive.RISK_DIRECTIONS``, and retention is boosted too (50 rounds of
#: 4-leaf trees at learning rate 0.1; 100 at 0.05 score the same, 0.748, in twice the
#: prediction time): AUC 0.749 against the logistic model's 0.759, whose reasons pointed the
#: wrong way in 33% of the top 3 (e.g. "40 active days (raises risk)"), none now. Success
#: (monotone) keeps 15-leaf trees, unlike the classifiers' default of 4 (chosen on OULAD):
#: AUC 0.848 (unconstrained 0.855), 7 leaves 0.843, 4 leaves 0.836. Forecast MAE monotone
#: 18.38, unconstrained 18.36.
MODEL_SETTINGS: dict[str, dict[str, Any]] = {
    "success": {"estimator": "hgb", "max_iter": 100, "max_leaf_nodes": 15},
    "retention_risk": {"estimator": "hgb", "max_iter": 50, "learning_rate": 0.1},
    "performance_forecast": {"max_iter": 25},
}
#: OpenMP threads while fitting: one. On a shared, loaded machine gradient boosting's
#: spin-waiting threads make fits far slower (see ``learnpulse.benchmarking.FIT_THREADS``).
FIT_THREADS = 1
#: Format of the folder :meth:`FittedCourseModels.save` writes.
SAVE_FORMAT = 1
_MANIFEST, _MASTERY, _ESTIMATORS = "manifest.json", "mastery.json", "models.joblib"
#: Manifest entry naming the scikit-learn release that pickled the estimators: another release
#: may not unpickle them, or may unpickle them into models that predict wrongly
#: (scikit-learn's model persistence guide), so :meth:`FittedCourseModels.load` refuses them.
_SKLEARN = "scikit-learn"
#: Manifest entry naming the MODEL_VERSION the models were fitted under.
_MODEL_VERSION = "model_version"
#: Manifest entries that describe the save itself, not the training (``trained_on``).
_MANIFEST_KEYS = ("format", "learnpulse", _SKLEARN, _MODEL_VERSION, "files")
_FIT_AGAIN = "fit them again (fit_course_models(course).save(folder))"
#: Longest error text (its first line, server paths taken out) an :class:`UnusableModels`
#: reason quotes: enough for any of :meth:`FittedCourseModels.load`'s, short in a table.
REASON_ERROR_CHARS = 200


class StaleModelsError(ValueError):
    """Saved course models fitted under another :data:`MODEL_VERSION` than this code's.

    Attributes
    ----------
    folder : pathlib.Path
        The models' folder.
    saved_version : str or None
        The version their manifest records (None: saved before versions were recorded).
    current_version : str
        This code's :data:`MODEL_VERSION`.
    """

    def __init__(self, folder: Path, saved_version: str | None) -> None:
        self.folder, self.saved_version = folder, saved_version
        self.current_version = MODEL_VERSION
        super().__init__(
            f"{folder}: course models of model version {_version_name(saved_version)}, "
            f"this learnpulse is {MODEL_VERSION}: features they read changed meaning since, "
            f"so their predictions would drift: {_FIT_AGAIN}"
        )


def _version_name(version: str | None) -> str:
    return "unrecorded (saved before learnpulse recorded it)" if version is None else version


@dataclass(frozen=True)
class UnusableModels:
    """A course's saved models that are there but not used, and why: what the server's
    loader gives for them, for :func:`~learnpulse.models.predict_all`'s ``fitted``, which
    predicts as without fitted models but with :attr:`reason` on the success, retention
    risk and forecast rows (not "no fitted model", which sent instructors to train models
    they had).

    Attributes
    ----------
    reason : str
        Why, for predictions learners may read about themselves: it names no server path.
    """

    reason: str

    @classmethod
    def stale(cls, error: StaleModelsError) -> UnusableModels:
        """Models fitted under another :data:`MODEL_VERSION`."""
        return cls(
            f"course models not used: fitted under model version "
            f"{_version_name(error.saved_version)}, this learnpulse is {error.current_version}; "
            "fit them again (`learnpulse models check` lists stale models)"
        )

    @classmethod
    def broken(cls, error: Exception, folder: Path) -> UnusableModels:
        """Models in ``folder`` that do not load (``error``: an OSError or ValueError)."""
        if isinstance(error, OSError) and error.filename is not None:  # "[Errno 2] ...: '/x'"
            text = f"{error.strerror or type(error).__name__}: {Path(error.filename).name}"
        else:
            text = (str(error).splitlines() or [type(error).__name__])[0]
        for path in sorted({str(folder), str(folder.resolve())}, key=len, reverse=True):
            text = text.replace(path + os.sep, "").replace(path, folder.name)
        if len(text) > REASON_ERROR_CHARS:
            text = text[: REASON_ERROR_CHARS - 3].rstrip() + "..."
        return cls(f"course models do not load: {text}")


@dataclass
class FittedCourseModels:
    """Models :func:`fit_course_models` trained, for :func:`~learnpulse.models.predict_all`.

    Attributes
    ----------
    mastery : BKT
        Knowledge-tracing model of the course's skills.
    success : SuccessModel or None
    retention_risk : RetentionRiskModel or None
    performance_forecast : PerformanceForecaster or None
        Each None when the training labels cannot train it (one class only, e.g. nobody
        withdrew; no scored assessment after a cut-off): ``trained_on["skipped"]`` says why.
    clusters : LearnerClusters
    trained_on : dict
        Course id, learners, training rows, cut-off days, features, and ``skipped``: model
        name -> why it was not trained.
    model_version : str or None
        The :data:`MODEL_VERSION` the models were fitted under (None: a save from before
        versions were recorded); another than this code's only when loaded with
        ``allow_stale=True``.
    """

    mastery: BKT
    success: SuccessModel | None
    retention_risk: RetentionRiskModel | None
    performance_forecast: PerformanceForecaster | None
    clusters: LearnerClusters
    trained_on: dict[str, Any] = field(default_factory=dict)
    model_version: str | None = MODEL_VERSION

    @property
    def stale(self) -> bool:
        """Whether the models were fitted under another :data:`MODEL_VERSION` than this code's
        (their features meant something else then)."""
        return self.model_version != MODEL_VERSION

    def save(self, directory: str | Path) -> Path:
        """Write the models to ``directory`` (created): a JSON manifest, the BKT as JSON and
        the scikit-learn models with joblib (load only folders you trust: it is a pickle).

        The model files replace earlier ones only once both are written, so a save that
        fails leaves an earlier save as it was; the manifest, written last, holds their
        SHA-256, so :meth:`load` refuses a folder whose files are not those of one save.
        """
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        estimators = {
            "success": self.success,
            "retention_risk": self.retention_risk,
            "performance_forecast": self.performance_forecast,
            "clusters": self.clusters,
        }
        with replacing(folder / _MASTERY) as mastery, replacing(folder / _ESTIMATORS) as models:
            self.mastery.save(mastery)
            joblib.dump(estimators, models)
        files = {name: sha256(folder / name) for name in (_MASTERY, _ESTIMATORS)}
        manifest = {
            "format": SAVE_FORMAT,
            "learnpulse": __version__,
            _SKLEARN: sklearn.__version__,
            _MODEL_VERSION: self.model_version,
            "files": files,
        }
        write_text(folder / _MANIFEST, json.dumps({**manifest, **self.trained_on}, indent=2))
        return folder

    @classmethod
    def load(cls, directory: str | Path, *, allow_stale: bool = False) -> FittedCourseModels:
        """Read what :meth:`save` wrote.

        Parameters
        ----------
        directory : str or pathlib.Path
            The folder :meth:`save` wrote.
        allow_stale : bool
            Load models fitted under another :data:`MODEL_VERSION` too (their
            ``model_version`` and :attr:`stale` say so) instead of raising.

        Raises
        ------
        FileNotFoundError
            If a file of the folder is missing.
        ValueError
            If ``directory`` is a file, the manifest is not one :meth:`save` wrote, the folder
            was written in another format, a file is not the one its manifest names (a save
            that did not finish, or a file changed since), or the estimators were pickled by
            another scikit-learn release.
        StaleModelsError
            (A ValueError) If the models were fitted under another :data:`MODEL_VERSION`
            and ``allow_stale`` is false.
        """
        folder = Path(directory)
        if folder.is_file():  # e.g. the BKT file of a save: "Not a directory: .../manifest.json"
            raise ValueError(
                f"{folder} is a file: give the folder FittedCourseModels.save wrote "
                f"(it holds {_MANIFEST}, {_MASTERY} and {_ESTIMATORS})"
            )
        manifest = _read_manifest(folder / _MANIFEST)
        if manifest.get("format") != SAVE_FORMAT:
            raise ValueError(
                f"{folder / _MANIFEST}: format {manifest.get('format')!r}, expected {SAVE_FORMAT}"
            )
        for name, digest in manifest.get("files", {}).items():  # older saves list none
            if sha256(folder / name) != digest:
                raise ValueError(
                    f"{folder / name} is not the file {_MANIFEST} names (a save that did not "
                    "finish, or a file changed since): save the models again"
                )
        pickled_by = manifest.get(_SKLEARN)
        if pickled_by is not None and pickled_by != sklearn.__version__:
            raise ValueError(
                f"{folder}: the models were fitted with scikit-learn {pickled_by}, this is "
                f"{sklearn.__version__}, which may not read them correctly: {_FIT_AGAIN}"
            )
        fitted_under = manifest.get(_MODEL_VERSION)
        if fitted_under != MODEL_VERSION and not allow_stale:
            raise StaleModelsError(folder, fitted_under)
        estimators = _unpickle(folder / _ESTIMATORS)
        trained_on = {k: v for k, v in manifest.items() if k not in _MANIFEST_KEYS}
        return cls(
            mastery=BKT.load(folder / _MASTERY),
            trained_on=trained_on,
            model_version=fitted_under,
            **estimators,
        )


def check_saved_models(models_dir: str | Path) -> list[dict[str, Any]]:
    """Whether each course's saved models under ``models_dir`` can be used, as the server
    reads them (one folder per course, written by :meth:`FittedCourseModels.save`).

    Parameters
    ----------
    models_dir : str or pathlib.Path
        The folder of course folders (the server's ``models_dir``).

    Returns
    -------
    list of dict
        One per course folder, by name: ``course``, ``folder``, ``model_version`` (recorded
        in the manifest, None when unrecorded or unreadable), ``state`` (``"current"``;
        ``"stale"``: fitted under another :data:`MODEL_VERSION`; ``"unusable"``: does not
        load here) and ``problem`` (why not current, else None).

    Raises
    ------
    FileNotFoundError
        If ``models_dir`` is not a folder.
    """
    root = Path(models_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no course models folder at {root}")
    rows = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        row = {"course": folder.name, "folder": str(folder), "model_version": None}
        try:
            row["model_version"] = FittedCourseModels.load(folder).model_version
        except StaleModelsError as stale:
            row.update(model_version=stale.saved_version, state="stale", problem=str(stale))
        except (OSError, ValueError) as error:
            row.update(state="unusable", problem=str(error))
        rows.append({"state": "current", "problem": None, **row})
    return rows


def saved_models_state(row: dict[str, Any]) -> str:
    """One course's state, as a row of :func:`check_saved_models` gives it, in words."""
    if row["state"] == "stale":
        return (
            f"stale: fitted under model version {row['model_version'] or 'unrecorded'}, "
            "whose features meant something else; the server does not use them (unless "
            "LearnPulseApp.allow_stale_models): fit them again (learnpulse demo refits its own)"
        )
    return row["state"] if row["problem"] is None else f"{row['state']}: {row['problem']}"


def _read_manifest(path: Path) -> dict[str, Any]:
    """The manifest :meth:`FittedCourseModels.save` wrote, or ValueError naming the file (the
    server and ``learnpulse demo`` catch it: a JSONDecodeError did not say which file, and a
    manifest that was not an object raised AttributeError past them)."""
    problem = "FittedCourseModels.save writes a JSON object with the files' digests"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        problem = f"not JSON ({error})"
    else:
        if isinstance(manifest, dict) and isinstance(manifest.get("files", {}), dict):
            return manifest
    raise ValueError(f"{path} is not the manifest of saved course models: {problem}")


def _unpickle(path: Path) -> dict[str, Any]:
    """The estimators :meth:`FittedCourseModels.save` pickled; saves older than the manifest's
    scikit-learn entry are checked by scikit-learn's own warning, raised as an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        try:
            return joblib.load(path)
        except InconsistentVersionWarning as stale:
            raise ValueError(
                f"{path}: {stale.estimator_name} was fitted with scikit-learn "
                f"{stale.original_sklearn_version}, this is {stale.current_sklearn_version}, "
                f"which may not read it correctly: {_FIT_AGAIN}"
            ) from None


def _next_scores(events: pl.DataFrame, cut: Any) -> pl.DataFrame:
    """Score of every learner's first scored assessment at or after ``cut``."""
    return (
        events.filter(
            (pl.col("kind") == "assessment_submitted")
            & pl.col("score").is_not_null()
            & (pl.col("ts") >= cut)
        )
        .group_by(KEYS)
        .agg(next_score=pl.col("score").sort_by("ts").first())
    )


def training_frame(course: CourseData, days: Sequence[float] = TRAINING_DAYS) -> pl.DataFrame:
    """Features at each cut-off, stacked, with outcome labels (see the module docstring).

    Parameters
    ----------
    course : CourseData
        A course whose ``learners.attributes`` have ``final_result``.
    days : sequence of float
        Cut-offs in days after the first activity; those after the last event are skipped.

    Returns
    -------
    polars.DataFrame
        Keys, ``cutoff_day``, ``FEATURE_COLUMNS``, ``final_result``, ``y_withdrawn``,
        ``y_at_risk``, ``y_passed`` and ``next_score`` (null without a later assessment).

    Raises
    ------
    ValueError
        If no learner has a known ``final_result`` or no cut-off falls inside the course.
    """
    if not isinstance(course, CourseData):
        raise TypeError(
            f"course must be a CourseData (events and learners with final_result), not "
            f"{type(course).__name__}: e.g. learnpulse.datasets.simulate_course(...)"
        )
    outcomes = oulad_outcomes(course.learners).filter(pl.col("final_result").is_not_null())
    if not outcomes.height:
        raise ValueError("course.learners.attributes need 'final_result' to train on")
    activity = course.events.filter(~pl.col("kind").is_in(NON_ACTIVITY_KINDS))
    if not activity.height:
        raise ValueError("the training course has no activity events")
    start, end = activity.get_column("ts").min(), course.events.get_column("ts").max()
    events = with_evidence(course.events)  # once for every cut-off (a mark needs no later event)
    frames = []
    for day in days:
        cut = start + timedelta(days=day)
        if cut >= end:
            continue
        feats = learner_features(events, at=cut, learners=course.learners)
        registered = pl.col("days_registered").is_not_null() & (pl.col("withdrawn") == 0)
        frames.append(
            feats.filter(registered)
            .join(outcomes, on=list(KEYS), how="inner")
            .join(_next_scores(course.events, cut), on=list(KEYS), how="left")
            .with_columns(cutoff_day=pl.lit(float(day)))
        )
    if not frames:
        raise ValueError(f"no training cut-off {list(days)} days falls inside the course")
    return pl.concat(frames)


def fit_course_models(
    course: CourseData,
    *,
    days: Sequence[float] = TRAINING_DAYS,
    features: Sequence[str] = COURSE_MODEL_FEATURES,
    settings: dict[str, dict[str, Any]] | None = None,
    random_state: int = 0,
) -> FittedCourseModels:
    """Train every labelled model of ``predict_all`` on a course with known outcomes.

    Parameters
    ----------
    course : CourseData
        Events and learners (with ``final_result`` in ``attributes``) of a finished course.
    days : sequence of float
        Training cut-offs (see :func:`training_frame`).
    features : sequence of str
        Feature columns of the success, retention and forecast models.
    settings : dict, optional
        Constructor arguments per model (default :data:`MODEL_SETTINGS`).
    random_state : int

    Returns
    -------
    FittedCourseModels
    """
    frame = training_frame(course, days)
    with threadpool_limits(FIT_THREADS):
        return _fit(course, frame, list(features), settings or MODEL_SETTINGS, random_state)


def _fit(
    course: CourseData,
    frame: pl.DataFrame,
    features: list[str],
    settings: dict[str, dict[str, Any]],
    random_state: int,
) -> FittedCourseModels:
    """Fit every model on the training frame (see :func:`fit_course_models`)."""
    common = {"features": features, "random_state": random_state}
    skipped: dict[str, str] = {}

    def fit(cls, name: str, rows: pl.DataFrame, label: str):
        """The fitted model, or None (and why, in ``skipped``) when the labels cannot train it."""
        y = rows.get_column(label)
        if y.n_unique() < 2:
            skipped[name] = f"{label} has {y.n_unique()} distinct value(s) in the training rows"
            return None
        return cls(**common, **settings.get(name, {})).fit(rows, y.to_numpy())

    success = fit(SuccessModel, "success", frame, "y_passed")
    retention = fit(RetentionRiskModel, "retention_risk", frame, "y_withdrawn")
    scored = frame.filter(pl.col("next_score").is_not_null())
    forecast = fit(PerformanceForecaster, "performance_forecast", scored, "next_score")
    clusters = LearnerClusters(random_state=random_state).fit(frame)
    trained_on = {
        "course_id": sorted(course.events.get_column("course_id").unique().to_list()),
        "n_learners": course.learners.height,
        "n_rows": frame.height,
        "cutoff_days": [float(d) for d in frame.get_column("cutoff_day").unique().sort()],
        "features": features,
        "skipped": skipped,
    }
    return FittedCourseModels(
        mastery=fit_mastery_model(course.events),
        success=success,
        retention_risk=retention,
        performance_forecast=forecast,
        clusters=clusters,
        trained_on=trained_on,
    )
