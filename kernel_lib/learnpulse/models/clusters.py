"""Learner clusters: k-means on standardised behaviour and performance, described in words."""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from learnpulse import __version__
from learnpulse.models.mastery import check_columns

#: Feature columns (of :func:`learnpulse.features.learner_features`) clustered by default,
#: with the words used when a cluster is clearly above / below the class on them.
DEFAULT_TRAITS: dict[str, tuple[str, str]] = {
    "accuracy": ("accurate", "struggling"),
    "n_attempt": ("very active", "rarely active"),
    "active_days": ("persistent", "irregular"),
    "hints_per_attempt": ("hint-reliant", "independent"),
}
#: Candidate numbers of clusters; the one with the best silhouette wins.
K_RANGE = (2, 6)
#: A cluster centre this many standard deviations from the class mean earns a word.
TRAIT_Z = 0.5
#: Learners sampled to compute the silhouette when choosing k (keeps large classes fast).
SILHOUETTE_SAMPLE = 5_000
#: Words named per cluster description.
WORDS_PER_CLUSTER = 2
#: Traits (largest |z| first) named in each learner's reason.
REASON_TRAITS = 2
#: Learners (a random sample) each learner's silhouette, its confidence, is measured against
#: in :meth:`LearnerClusters.predict_frame`: exact silhouettes cost O(n^2) (~2 s for 10,000
#: learners); against 1,000 learners each mean distance rests on ~1000 / k of them, and a
#: learner's confidence moves by 0.009 on average, 0.03 at most (measured on a 10,000-learner
#: simulated course, 0.18 s instead of 1.7 s of CPU).
CONFIDENCE_REFERENCE = 1_000
#: Rows of the distance matrix computed at once (bounds memory: rows x reference floats).
_DISTANCE_ROWS = 2_000


class LearnerClusters(BaseEstimator):
    """Group learners by behaviour; k chosen by silhouette; every cluster described in words.

    Parameters
    ----------
    traits : dict of column -> (word when high, word when low)
        Features to cluster on and how to describe them.
    k_range : (int, int)
        Smallest and largest k tried (inclusive).
    random_state : int
        Seed of k-means and of the silhouette sample.
    """

    def __init__(
        self,
        traits: dict[str, tuple[str, str]] | None = None,
        k_range: tuple[int, int] = K_RANGE,
        random_state: int = 0,
    ) -> None:
        self.traits = traits
        self.k_range = k_range
        self.random_state = random_state

    @property
    def _traits(self) -> dict[str, tuple[str, str]]:
        return self.traits or DEFAULT_TRAITS

    def _raw(self, features: pl.DataFrame) -> np.ndarray:
        """The trait columns, shape (n_learners, n_traits), NaN where unknown."""
        missing = [c for c in self._traits if c not in features.columns]
        if missing:
            raise ValueError(f"features lack the columns {missing}")
        columns = [pl.col(c).cast(pl.Float64).fill_nan(None) for c in self._traits]
        return features.select(columns).to_numpy().astype(np.float64)

    def _matrix(self, features: pl.DataFrame) -> np.ndarray:
        """:meth:`_raw` with unknown values at the training learners' median: a learner with
        no attempt has no accuracy and counts as the class median, not as 0, whoever else is
        scored with them (models fitted before ``fill_`` use the scaler's means)."""
        X = self._raw(features)
        fill = getattr(self, "fill_", None)
        fill = self.scaler_.mean_ if fill is None else fill
        return np.where(np.isnan(X), fill, X)

    def fit(self, features: pl.DataFrame, y: None = None) -> LearnerClusters:
        """Standardise, try every k in ``k_range``, keep the best silhouette.

        Parameters
        ----------
        features : polars.DataFrame, shape (n_learners, >= len(traits))
            One row per learner with the trait columns.
        """
        X = self._raw(features)
        known = ~np.isnan(X)
        median = [
            np.median(X[known[:, j], j]) if known[:, j].any() else 0.0 for j in range(X.shape[1])
        ]
        self.fill_ = np.asarray(median, dtype=np.float64)
        X = np.where(known, X, self.fill_)
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        distinct = len(np.unique(Z.round(9), axis=0))
        low, high = self.k_range
        candidates = [k for k in range(low, high + 1) if k < distinct]
        self.silhouettes_: dict[int, float] = {}
        if not candidates:  # too few distinct learners to split: one cluster
            self.kmeans_ = KMeans(1, n_init=1, random_state=self.random_state).fit(Z)
        else:
            fits = {
                k: KMeans(k, n_init=4, random_state=self.random_state).fit(Z) for k in candidates
            }
            sample = min(SILHOUETTE_SAMPLE, len(Z))
            for k, model in fits.items():
                self.silhouettes_[k] = float(
                    silhouette_score(
                        Z, model.labels_, sample_size=sample, random_state=self.random_state
                    )
                )
            self.kmeans_ = fits[max(self.silhouettes_, key=self.silhouettes_.get)]
        self.n_clusters_ = self.kmeans_.n_clusters
        self.descriptions_ = [self._describe(c) for c in self.kmeans_.cluster_centers_]
        return self

    def _describe(self, centre: np.ndarray) -> str:
        """Words for the traits on which a cluster centre stands out (|z| >= TRAIT_Z)."""
        ranked = sorted(zip(centre, self._traits.values(), strict=True), key=lambda p: -abs(p[0]))
        words = [high if z > 0 else low for z, (high, low) in ranked if abs(z) >= TRAIT_Z]
        if not words:
            return "typical of the class"
        words = words[:WORDS_PER_CLUSTER]
        # "persistent but struggling": "but" joins a strength and a weakness, "and" two alike.
        weak = _weakness_words(self._traits)
        mixed = len(words) == 2 and (words[0] in weak) != (words[1] in weak)
        joiner = " but " if mixed else " and "
        return joiner.join(words)

    def predict(self, features: pl.DataFrame) -> np.ndarray:
        """Cluster index per learner, shape (n_learners,)."""
        check_is_fitted(self, "kmeans_")
        return self.kmeans_.predict(self.scaler_.transform(self._matrix(features)))

    def predict_frame(
        self, features: pl.DataFrame, *, reference_size: int | None = CONFIDENCE_REFERENCE
    ) -> pl.DataFrame:
        """Per learner: cluster, its description, confidence, model and reason.

        Confidence is the learner's silhouette (how much closer to its own cluster than to the
        next one), mapped from [-1, 1] to [0, 1]; see :func:`reference_silhouettes`.

        Parameters
        ----------
        features : polars.DataFrame, shape (n_learners, >= len(traits))
            ``learner_id`` and the trait columns.
        reference_size : int or None
            Learners the silhouettes are measured against (default
            :data:`CONFIDENCE_REFERENCE`); None: all of them (exact, O(n_learners^2)).

        Returns
        -------
        polars.DataFrame, shape (n_learners, 6)
            ``learner_id``, ``value`` (cluster index), ``cluster`` (description),
            ``confidence``, ``model``, ``reason``; in the order of ``features``.
        """
        check_is_fitted(self, "kmeans_")
        check_columns(features, ("learner_id",), "feature frame")
        Z = self.scaler_.transform(self._matrix(features))
        labels = self.kmeans_.predict(Z)
        if self.n_clusters_ > 1 and len(np.unique(labels)) > 1:
            silhouettes = reference_silhouettes(
                Z, labels, reference_size=reference_size, random_state=self.random_state
            )
            confidence = (silhouettes + 1) / 2
        else:
            confidence = np.ones(len(labels))
        cluster = np.asarray(self.descriptions_, dtype=object)[labels].astype(str)
        return pl.DataFrame(
            {
                "learner_id": features.get_column("learner_id"),
                "value": labels.astype(np.int64),
                "cluster": cluster,
                "confidence": confidence,
                "model": f"learner-clusters {__version__} (k={self.n_clusters_})",
                "reason": self._reasons(Z, cluster),
            }
        )

    def _reasons(self, Z: np.ndarray, cluster: np.ndarray) -> pl.Series:
        """ "cluster '<description>': <trait> <z> sd, <trait> <z> sd" (the two largest |z|)."""
        names = np.asarray(list(self._traits), dtype=object)
        top = np.argsort(-np.abs(Z), axis=1, kind="stable")[:, :REASON_TRAITS]
        rows = np.arange(len(Z))[:, None]
        words = names[top] + " " + np.vectorize("{:+.1f}".format, otypes=[object])(Z[rows, top])
        traits = [pl.Series(words[:, k].astype(str)) for k in range(top.shape[1])]
        frame = pl.DataFrame({"cluster": cluster}).with_columns(
            traits=pl.concat_str([pl.lit(t) for t in traits], separator=" sd, ")
        )
        return frame.select(pl.format("cluster '{}': {} sd", "cluster", "traits")).to_series()


def reference_silhouettes(
    Z: np.ndarray,
    labels: np.ndarray,
    *,
    reference_size: int | None = CONFIDENCE_REFERENCE,
    random_state: int = 0,
) -> np.ndarray:
    """Silhouette of every point, measured against a random reference sample of points.

    ``a`` is the mean distance to the reference points of the point's own cluster (itself
    excluded), ``b`` the smallest mean distance to those of another cluster, and the
    silhouette ``(b - a) / max(a, b)`` (0 for a point alone in its cluster). With every point
    in the reference (``reference_size`` None or >= n_points) this is the exact silhouette of
    :func:`sklearn.metrics.silhouette_samples`; a sample makes it O(n_points) and estimates
    each mean distance from about ``reference_size / k`` points.

    Parameters
    ----------
    Z : numpy.ndarray, shape (n_points, n_features)
    labels : numpy.ndarray, shape (n_points,)
        Cluster index of every point (0 .. k - 1).
    reference_size : int or None
        Points in the reference sample (None: all).
    random_state : int
        Seed of the sample.

    Returns
    -------
    numpy.ndarray, shape (n_points,)
        Silhouettes in [-1, 1].
    """
    n = len(Z)
    if reference_size is None or reference_size >= n:
        reference = np.arange(n)
    else:
        rng = np.random.default_rng(random_state)
        reference = np.sort(rng.choice(n, size=reference_size, replace=False))
    k = int(labels.max()) + 1
    sums = np.zeros((n, k))
    for start in range(0, n, _DISTANCE_ROWS):  # bounded memory: rows x reference at a time
        block = euclidean_distances(Z[start : start + _DISTANCE_ROWS], Z[reference])
        for c in range(k):
            sums[start : start + len(block), c] = block[:, labels[reference] == c].sum(axis=1)
    counts = np.bincount(labels[reference], minlength=k).astype(np.float64)
    own = counts[labels] - np.isin(np.arange(n), reference)  # a point is no peer of itself
    rows = np.arange(n)
    a = np.divide(sums[rows, labels], own, out=np.zeros(n), where=own > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        means = np.where(counts > 0, sums / counts, np.inf)
    means[rows, labels] = np.inf
    b = means.min(axis=1)
    top = np.maximum(a, b)
    valid = (own > 0) & np.isfinite(b) & (top > 0)
    return np.divide(b - a, top, out=np.zeros(n), where=valid)


def _weakness_words(traits: dict[str, tuple[str, str]]) -> set[str]:
    """Words naming a weakness: low accuracy, activity or persistence; heavy hint use."""
    weak_when_low = {"accuracy", "n_attempt", "active_days"}
    return {low for column, (_, low) in traits.items() if column in weak_when_low} | {
        high for column, (high, _) in traits.items() if column == "hints_per_attempt"
    }
