"""Predictive models: sklearn contract, prediction frames and reasons, degenerate inputs,
quality on real OULAD data (day 60, trained on 2013B/2013J, tested on 2014B)."""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from learnpulse.datasets import load_oulad
from learnpulse.datasets.oulad_features import OULAD_MODEL_COLUMNS, oulad_day_frame
from learnpulse.features import FEATURE_PHRASES, learner_features
from learnpulse.models.occlusion import ALL_TYPICAL, singular_template, splits_crossed
from learnpulse.models.predictive import (
    RISK_DIRECTIONS,
    PerformanceForecaster,
    RetentionRiskModel,
    SuccessModel,
)

#: Small, fast settings for the contract checks and synthetic tests.
FAST = {"max_iter": 20, "min_samples_leaf": 2}


@pytest.fixture(autouse=True)
def _one_thread():
    """One OpenMP thread: on a shared, loaded machine the boosting threads' spin-waiting
    makes a tiny fit ~100x slower than a single thread."""
    with threadpool_limits(1):
        yield


# The estimators take plain 2-D arrays too, so scikit-learn's own checks apply. They are
# binary classifiers (tagged so) and NaN-tolerant regressors/classifiers.
@parametrize_with_checks(
    [SuccessModel(**FAST), RetentionRiskModel(estimator="logistic"), PerformanceForecaster(**FAST)]
)
def test_sklearn_contract(estimator, check):
    check(estimator)


def _synthetic(n: int = 400, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    """Learners whose outcome depends on n_missed (strongly) and days_registered (weakly);
    ``noise`` is irrelevant and ``constant`` never varies."""
    rng = np.random.default_rng(seed)
    missed = rng.integers(0, 5, n).astype(float)
    registered = rng.normal(100, 20, n)
    logit = -2 + 1.5 * missed + 0.01 * (registered - 100)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pl.DataFrame(
        {
            "course_id": "c",
            "learner_id": [f"l{i}" for i in range(n)],
            "n_missed": missed,
            "days_registered": registered,
            "noise": rng.normal(size=n),
            "constant": np.ones(n),
        }
    )
    return frame, y


@pytest.mark.parametrize("estimator", ["hgb", "logistic"])
def test_retention_frame_and_reasons(estimator):
    frame, y = _synthetic()
    model = RetentionRiskModel(estimator=estimator, **FAST).fit(frame, y)
    assert roc_auc_score(y, model.predict_proba(frame)[:, 1]) > 0.8
    out = model.predict_frame(frame)
    assert out.columns[:2] == ["course_id", "learner_id"]
    assert out["value"].is_between(0, 1).all() and out["confidence"].is_between(0.5, 1).all()
    assert out["model"].unique().to_list() == ["retention_risk/1.2"]
    named = _named(model, out["reason"])
    assert named <= set(model.feature_names_) and "n_missed" in named
    assert "constant" not in named  # a constant feature never drives a prediction
    most = out.filter(pl.Series(frame["n_missed"] == 4))["reason"]
    assert most.str.contains("4 due items not submitted (raises risk)", literal=True).mean() > 0.8


def _named(model, reasons: pl.Series) -> set[str]:
    """The features the reasons name: every part is "<wording> (<direction>)", the wording
    a FEATURE_PHRASES one (or ``name=value`` for other columns); fails on any other part."""
    patterns = {}
    for c in map(str, model.feature_names_):
        template, unknown = FEATURE_PHRASES.get(c, (f"{c}={{}}", f"{c} missing"))
        forms = {template, singular_template(template)}  # "1 due item", "2 due items"
        wording = "|".join(re.escape(t).replace(r"\{\}", ".+") for t in forms)
        patterns[c] = re.compile(f"^(?:{wording}|{re.escape(unknown)})$")
    named = set()
    for part in (p for r in reasons if r != ALL_TYPICAL for p in r.split("; ")):
        direction = next(d for d in (model._up, model._down) if part.endswith(f" ({d})"))
        wording = part.removesuffix(f" ({direction})")
        hits = {c for c, pattern in patterns.items() if pattern.match(wording)}
        assert hits, f"{part!r} names no feature"
        named |= hits
    return named


def test_reasons_word_values_as_people_read_them():
    rng = np.random.default_rng(1)
    n = 600
    missed = (rng.random(n) < 0.3).astype(int)  # median 0: a 1 is what changes the risk
    accuracy = np.where(rng.random(n) < 0.2, np.nan, rng.uniform(0.2, 1, n))
    days = rng.uniform(0, 60, n)
    logit = 2 * missed - 3 * np.nan_to_num(accuracy, nan=0.3) + days / 20
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pl.DataFrame(
        {
            "learner_id": [f"l{i}" for i in range(n)],
            "missed_latest_due": missed,
            "accuracy": accuracy,
            "days_since_last_submission": days,
            "studied_credits": rng.choice([30.0, 60.0, 120.0], n),
        }
    )
    reasons = RetentionRiskModel(**FAST).fit(frame, y).predict_frame(frame)["reason"]
    text = "; ".join(reasons)
    assert "latest due item not submitted: yes (raises risk)" in text
    assert re.search(r"accuracy \d{1,3}% \((raises|lowers) risk\)", text)
    assert "no graded attempt yet (" in text  # a missing accuracy, said in words
    assert re.search(r"(?<![\d.])\d+ days since the last submission \(", text)  # whole days
    assert "=" not in text and "missing" not in text and "nan" not in text


def test_success_degenerate_inputs():
    frame, y = _synthetic()
    model = SuccessModel(**FAST)
    with pytest.raises(NotFittedError):
        model.predict_proba(frame)
    model.fit(frame, y)
    assert model.predict_frame(frame.head(0)).height == 0
    one = model.predict_frame(frame.head(1))
    assert one.height == 1 and one["reason"][0]
    # A learner with nothing known (all features missing) still gets a prediction.
    blank = frame.head(1).with_columns(pl.col("n_missed", "days_registered", "noise") * None)
    assert 0 <= model.predict_frame(blank)["value"][0] <= 1
    with pytest.raises(ValueError, match="one class"):
        SuccessModel().fit(frame, np.ones(frame.height))
    only_constant = SuccessModel(features=["constant"]).fit(frame, y)
    assert np.allclose(only_constant.predict_proba(frame)[:, 1], y.mean())


@pytest.mark.parametrize("model_class", [RetentionRiskModel, SuccessModel, PerformanceForecaster])
def test_bad_feature_frames_are_refused_naming_the_column(model_class):
    frame, y = _synthetic()
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['n_late'\]"):
        model_class(features=["n_missed", "n_late"], **FAST).fit(frame, y)
    with pytest.raises(ValueError, match=r"numeric.*'noise': 'String'"):
        model_class(features=["n_missed", "noise"], **FAST).fit(
            frame.with_columns(pl.col("noise").cast(pl.String)), y
        )
    model = model_class(**FAST).fit(frame, y)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['noise'\]"):
        model.predict_frame(frame.drop("noise"))
    with pytest.raises(ValueError, match="'days_registered': 'String'"):
        model.predict_frame(frame.with_columns(pl.col("days_registered").cast(pl.String)))
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['learner_id'\]"):
        model.predict_frame(frame.drop("learner_id"))
    # booleans and integer counts are numbers
    as_flags = frame.with_columns(pl.col("n_missed").cast(pl.Int64), pl.col("constant") > 0)
    assert model.predict_frame(as_flags).height == frame.height


def test_forecaster_interval_and_features_of_no_submissions():
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 10, 600)
    frame = pl.DataFrame(
        {"learner_id": [f"l{i}" for i in range(600)], "x": x, "z": rng.normal(size=600)}
    )
    y = 5 * x + rng.normal(0, 3, 600)
    model = PerformanceForecaster(max_iter=100, learning_rate=0.1).fit(frame, y)
    out = model.predict_frame(frame)
    assert ((out["lower"] <= out["value"]) & (out["value"] <= out["upper"])).all()
    covered = ((out["lower"] <= y) & (pl.Series(y) <= out["upper"])).mean()
    assert 0.6 < covered < 0.95
    assert np.mean(np.abs(out["value"].to_numpy() - y)) < 4
    assert out["reason"].str.starts_with("x=").mean() > 0.7  # x drives most forecasts
    # Features of a learner with no submission at all are nulls/zeros the model accepts.
    empty = learner_features(
        pl.DataFrame(schema={"ts": pl.Datetime("us", "UTC")})
        .with_columns(learner_id=pl.lit("a"), course_id=pl.lit("c"), kind=pl.lit("registration"))
        .head(0),
        learners=pl.DataFrame({"course_id": ["c"], "learner_id": ["a"]}),
    )
    assert empty.height == 1 and empty["mean_score"][0] is None


@pytest.fixture(scope="module")
def oulad_day60(shared_data):
    frame = oulad_day_frame(load_oulad(shared_data / "oulad"), 60)
    latest = pl.col("presentation") == "2014B"
    return frame.filter(~latest), frame.filter(latest)


@pytest.mark.parametrize(
    ("model_class", "label", "flip", "threshold"),
    [(SuccessModel, "y_passed", True, 0.72), (RetentionRiskModel, "y_withdrawn", False, 0.64)],
)
def test_oulad_quality(oulad_day60, model_class, label, flip, threshold):
    """At-risk (1 - P(pass)) and withdrawal AUC on the latest presentation, well above
    chance and above a demographics-only baseline, with reasons naming real columns."""
    train, test = oulad_day60
    features = [c for c in OULAD_MODEL_COLUMNS if c != "n_attempt"]
    model = model_class(features=features, categorical=["module"], max_iter=100)
    model.fit(train, train[label].to_numpy())
    p = model.predict_proba(test)[:, 1]
    y = test[label].to_numpy()
    auc = roc_auc_score(1 - y if flip else y, 1 - p if flip else p)
    assert auc > threshold
    out = model.predict_frame(test.head(50))
    named = _named(model, out["reason"])
    assert named and named <= set(test.columns)


@pytest.mark.parametrize(
    ("model_class", "estimator"),
    [
        (RetentionRiskModel, "hgb"),
        (RetentionRiskModel, "logistic"),
        (SuccessModel, "hgb"),
        (PerformanceForecaster, None),
    ],
)
def test_contributions_equal_one_model_call_per_feature(model_class, estimator):
    """Recomputing only the (learner, feature) cells that can change gives exactly what one
    occlusion call per feature gives (features at their median, unused ones and values on
    the median's side of every split give 0)."""
    frame, y = _synthetic()
    frame = frame.with_columns(band=pl.Series(np.arange(frame.height) % 3, dtype=pl.Float64))
    params = {"estimator": estimator} if estimator else {}
    model = model_class(categorical=["band"], **params, **FAST)
    if model_class is PerformanceForecaster:
        y = frame["days_registered"].to_numpy() + 10 * y
    model.fit(frame, y)
    X = frame.select(pl.col(list(model.feature_names_)).cast(pl.Float64)).to_numpy()
    X[:5, 0] = model.medians_[0]  # some cells already typical
    X[5:10, 1] = np.nan  # some missing
    base = model._raw(X)
    expected = np.empty_like(X)
    for j in range(X.shape[1]):
        typical = X.copy()
        typical[:, j] = model.medians_[j]
        expected[:, j] = base - model._raw(typical)
    got = model.contributions(X)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert (got[:, ~model.used_] == 0).all() and (got[:5, 0] == 0).all()
    differs = (model.medians_ != X) & model.used_
    pruned = differs & ~splits_crossed(model.model_, model.used_, model.medians_, X)
    if estimator == "logistic":
        assert not pruned.any()
    else:  # cells skipped as same-side, yet the result above is exact
        assert pruned.sum() > 0.05 * differs.sum()


def _u_shaped(n: int = 2000, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    """Withdrawal that is likelier at both ends of ``active_days`` (a feature whose
    direction ``RISK_DIRECTIONS`` fixes: more active days, lower risk), plus free noise."""
    rng = np.random.default_rng(seed)
    days = rng.uniform(0, 40, n)
    logit = -1 + 0.01 * (days - 20) ** 2 - 0.05 * days
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pl.DataFrame(
        {
            "learner_id": [f"l{i}" for i in range(n)],
            "active_days": days,
            "noise": rng.normal(size=n),
        }
    )
    return frame, y


def _wrong_way(model, frame: pl.DataFrame, column: str) -> float:
    """Share of the learners whose ``column`` contribution has the sign opposite to
    RISK_DIRECTIONS (times the model's sign: risk +1, P(pass) and scores -1)."""
    j = list(model.feature_names_).index(column)
    above = np.sign(frame[column].to_numpy() - model.medians_[j])
    expected = model._risk_sign * RISK_DIRECTIONS[column] * above
    got = np.sign(model.contributions(frame)[:, j])
    return float(np.mean((got != 0) & (got != expected)))


@pytest.mark.parametrize("model_class", [RetentionRiskModel, SuccessModel, PerformanceForecaster])
def test_monotonic_reasons_never_point_against_the_known_direction(model_class):
    frame, withdrew = _u_shaped()
    # the success model's label is "passed", the forecaster's a score: both fall with risk
    y = withdrew if model_class is RetentionRiskModel else 1 - withdrew
    y = 100.0 * y if model_class is PerformanceForecaster else y
    free = model_class(max_iter=50, monotonic=False).fit(frame, y)
    assert _wrong_way(free, frame, "active_days") > 0.05  # the U shape, learnt as it is
    constrained = model_class(max_iter=50).fit(frame, y)
    assert _wrong_way(constrained, frame, "active_days") == 0
    reasons = constrained.predict_frame(frame)["reason"]
    # many active days: never "raises risk", "lowers P(pass)" or "lowers forecast"
    wrong = constrained._up if constrained._risk_sign > 0 else constrained._down
    against = rf"[\d.]+ active days \({re.escape(wrong)}\)"
    many = pl.Series(frame["active_days"] > 35)
    assert not reasons.filter(many).str.contains(against).any()
    assert free.predict_frame(frame)["reason"].filter(many).str.contains(against).any()


def test_a_model_pickled_before_constraints_loads_as_unconstrained():
    frame, y = _synthetic()
    model = RetentionRiskModel(**FAST).fit(frame, y)
    state = model.__getstate__()
    del state["monotonic"]  # what version 1.0 pickled
    old = RetentionRiskModel.__new__(RetentionRiskModel)
    old.__setstate__(state)
    assert old.get_params()["monotonic"] is False
    np.testing.assert_array_equal(old.predict_proba(frame), model.predict_proba(frame))


def _scores(n: int, seed: int) -> tuple[pl.DataFrame, np.ndarray]:
    """Scores of learners (4 rows each) with heavy-tailed noise around a trend in x."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, n)
    y = 50 + 3 * x + 8 * rng.standard_t(3, n)
    learners = [f"s{seed}-{i // 4}" for i in range(n)]
    return pl.DataFrame({"learner_id": learners, "x": x, "noise": rng.normal(size=n)}), y


def test_forecast_interval_is_calibrated_on_held_out_learners():
    train, y = _scores(2000, seed=0)
    fresh, y_fresh = _scores(4000, seed=1)
    overfit = {"max_iter": 100, "min_samples_leaf": 5, "max_leaf_nodes": 31}

    def coverage(model) -> float:
        lo, hi = model.predict_interval(fresh).T
        return float(np.mean((lo <= y_fresh) & (y_fresh <= hi)))

    raw = PerformanceForecaster(calibration=0, **overfit).fit(train, y)
    calibrated = PerformanceForecaster(**overfit).fit(train, y)
    assert raw.interval_margin_ == 0
    assert coverage(raw) < 0.76  # small leaves fit the training noise: too narrow
    assert 0.76 <= coverage(calibrated) <= 0.85  # nominal 0.8
    # the point forecast is the same model either way
    np.testing.assert_array_equal(raw.predict(fresh), calibrated.predict(fresh))


def test_forecast_calibration_holds_out_whole_learners():
    frame, y = _scores(400, seed=2)
    model = PerformanceForecaster(**FAST)
    fitted, held_out = model._calibration_split(len(y), frame["learner_id"].to_numpy())
    ids = frame["learner_id"].to_numpy()
    assert held_out.size >= 30 and not set(ids[fitted]) & set(ids[held_out])
    assert len(fitted) + len(held_out) == len(y)
    few, none = model._calibration_split(100, None)  # 20 held-out rows: too few to calibrate
    assert len(few) == 100 and none.size == 0
