"""Bayesian Knowledge Tracing (Corbett & Anderson 1995), fitted per skill by EM.

Each (learner, skill) sequence is a two-state hidden Markov chain: the skill is unknown (0) or
known (1). ``p_init`` = P(known) before the first response, ``p_learn`` = P(unknown -> known)
after each response, ``p_forget`` = P(known -> unknown) (0 unless ``forgetting=True``, as in
Khajah, Lindsey & Mozer, EDM 2016), ``p_guess`` = P(correct | unknown) and ``p_slip`` =
P(wrong | known); with ``per_item_guess_slip=True`` guess and slip are per (skill, item),
shrunk toward the skill's values by :data:`ITEM_PRIOR_STRENGTH` pseudo-responses. With
``ability_bins``, every parameter is per (skill, ability bin): the bin of a (learner, skill)
sequence is that of the learner's accuracy on all their earlier responses (every skill) when the
sequence starts, so a strong learner starting a new skill is expected to know more, learn faster
and guess better than a struggling one. Only earlier responses count: no future leaks in. This
individualises BKT by student group, in the spirit of Pardos & Heffernan's prior-per-student
model (UMAP 2010), without a parameter per learner.

Fitting is Baum-Welch EM on every sequence of every skill at once: sequences are packed
time-major (:func:`~learnpulse.models.knowledge_tracing.sequences.pack`) so the only Python
loop runs over time steps, and several starting points (restarts) run side by side along a
leading axis; each skill keeps the restart with its best likelihood. Bounds keep fits away from
the degenerate solutions where "known" means "guessing" (Baker, Corbett & Aleven, ITS 2008).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from learnpulse.files import write_text
from learnpulse.models.knowledge_tracing import sequences as sq
from learnpulse.models.knowledge_tracing.ability import (
    AbilityHistory,
    sequence_bins,
)
from learnpulse.models.knowledge_tracing.checks import (
    POSITIVE_INT,
    Bound,
    check_correct,
    check_settings,
    read_model_file,
)
from learnpulse.models.knowledge_tracing.estimator import Parameters, check_fitted

#: Default upper bound of ``p_guess`` and ``p_slip``: a learner who knows the skill must do
#: better than one who guesses (Baker, Corbett & Aleven 2008).
MAX_GUESS_SLIP = 0.3
#: Default upper bounds of ``p_learn`` and ``p_forget`` per response.
MAX_LEARN = 0.5
MAX_FORGET = 0.5
#: Default ``min_prob``: every probability stays in [min_prob, 1 - min_prob] (no log of 0,
#: no frozen state).
PROB_FLOOR = 1e-4
#: EM starting point of the first restart; further restarts draw from :data:`INIT_RANGES`.
EM_START = {"p_init": 0.5, "p_learn": 0.1, "p_forget": 0.05, "p_guess": 0.2, "p_slip": 0.1}
INIT_RANGES = {
    "p_init": (0.1, 0.9),
    "p_learn": (0.02, 0.3),
    "p_forget": (0.01, 0.2),
    "p_guess": (0.05, 0.3),
    "p_slip": (0.02, 0.2),
}
#: EM restarts run side by side by default (the first from :data:`EM_START`).
DEFAULT_N_INIT = 3
#: Default EM iteration budget, and relative log-likelihood gain below which EM stops.
DEFAULT_MAX_ITER = 100
DEFAULT_TOL = 1e-5
#: Pseudo-responses pulling a (skill, item) guess/slip toward the skill's value.
ITEM_PRIOR_STRENGTH = 10.0
#: The per-skill parameters. A skill the model never saw gets the median over fitted skills.
PARAMS = ("p_init", "p_learn", "p_forget", "p_guess", "p_slip")
_SEP = "\x1f"  # joins skill, ability bin and item in parameter keys


def _per(group: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Sums of ``values`` (R, n) by ``group`` (n,), shape (R, size)."""
    restarts = values.shape[0]
    index = (np.arange(restarts)[:, None] * size + group[None, :]).ravel()
    return np.bincount(index, weights=values.ravel(), minlength=restarts * size).reshape(
        restarts, size
    )


def _unit_skills(units: list[str], keys: list[str]) -> np.ndarray:
    """Parameter-key code of each (key, item) unit, shape (len(units),)."""
    return sq.codes(pl.Series([u.rsplit(_SEP, 1)[0] for u in units], dtype=pl.String), keys)


class _Chain:
    """Encoded responses of one input, packed for the forward(-backward) passes.

    ``skill`` and ``unit`` are model codes (``n_skills`` = unseen skill; -1 = no (skill, item)
    parameter, use the skill's), all in packed order, shape (n,).
    """

    def __init__(self, skill: np.ndarray, unit: np.ndarray, obs: np.ndarray, key: np.ndarray):
        self.packed = sq.pack(key)
        order = self.packed.order
        self.skill, self.unit, self.obs = skill[order], unit[order], obs[order].astype(bool)
        self.seq_skill = skill[self.packed.first_index]

    def emissions(self, p: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        """Guess, slip, P(obs | unknown), P(obs | known) per packed entry, each (R, n)."""
        guess, slip = p["p_guess"][:, self.skill], p["p_slip"][:, self.skill]
        if p["unit_guess"].shape[1]:
            has = self.unit >= 0
            guess = np.where(has, p["unit_guess"][:, self.unit], guess)
            slip = np.where(has, p["unit_slip"][:, self.unit], slip)
        e0 = np.where(self.obs, guess, 1 - guess)
        e1 = np.where(self.obs, 1 - slip, slip)
        return guess, slip, e0, e1

    def forward(self, p: dict[str, np.ndarray], e0: np.ndarray, e1: np.ndarray):
        """Prior and posterior P(known) per entry (R, n), scales (R, n), final P(known) (R, s).

        The final P(known) is after the last response's transition: the next opportunity's.
        """
        learn, forget = p["p_learn"][:, self.seq_skill], p["p_forget"][:, self.seq_skill]
        known = p["p_init"][:, self.seq_skill].copy()
        prior, post, scale = np.empty_like(e0), np.empty_like(e0), np.empty_like(e0)
        for t, b in enumerate(self.packed.sizes):
            s = self.packed.step(t)
            k = known[:, :b]
            f1, f0 = k * e1[:, s], (1 - k) * e0[:, s]
            prior[:, s], scale[:, s] = k, f0 + f1
            post[:, s] = a1 = f1 / scale[:, s]
            known[:, :b] = a1 * (1 - forget[:, :b]) + (1 - a1) * learn[:, :b]
        return prior, post, scale, known

    def backward(self, p: dict[str, np.ndarray], e0, e1) -> tuple[np.ndarray, ...]:
        """Next-step messages ``e_j(t+1) beta_j(t+1)`` (0 at sequence ends) and betas (R, n).

        Both are known up to a positive factor per entry; callers normalise.
        """
        learn, forget = p["p_learn"][:, self.seq_skill], p["p_forget"][:, self.seq_skill]
        m0, m1 = np.zeros_like(e0), np.zeros_like(e0)
        b0, b1 = np.ones_like(e0), np.ones_like(e0)
        for t in range(len(self.packed.sizes) - 2, -1, -1):
            nxt, m = self.packed.step(t + 1), int(self.packed.sizes[t + 1])
            cur = slice(int(self.packed.offsets[t]), int(self.packed.offsets[t]) + m)
            m0[:, cur], m1[:, cur] = e0[:, nxt] * b0[:, nxt], e1[:, nxt] * b1[:, nxt]
            lrn, fgt = learn[:, :m], forget[:, :m]
            c0 = (1 - lrn) * m0[:, cur] + lrn * m1[:, cur]
            c1 = fgt * m0[:, cur] + (1 - fgt) * m1[:, cur]
            total = c0 + c1  # any constant per entry cancels: keeps beta from overflowing
            b0[:, cur], b1[:, cur] = c0 / total, c1 / total
        return m0, m1, b0, b1


class BKT(Parameters):
    """Per-skill Bayesian Knowledge Tracing, scikit-learn style, on response sequences.

    Parameters
    ----------
    forgetting : bool, default False
        Fit ``p_forget`` too (otherwise it is 0).
    per_item_guess_slip : bool, default False
        Guess and slip per (skill, item) instead of per skill.
    max_guess, max_slip : float, default :data:`MAX_GUESS_SLIP`
    max_learn, max_forget : float, default :data:`MAX_LEARN`, :data:`MAX_FORGET`
        Upper bounds of the fitted parameters, each in (``min_prob``, 1].
    min_prob : float, default :data:`PROB_FLOOR`
        Lower bound of every probability, in [0, 0.5).
    n_init : int, default :data:`DEFAULT_N_INIT`
        EM restarts run side by side; each skill keeps its most likely one.
    max_iter : int, default :data:`DEFAULT_MAX_ITER`
    tol : float, default :data:`DEFAULT_TOL`
        Stop when the log-likelihood improves by less than ``tol`` times its size.
    ability_bins : sequence of float or None, default None
        Accuracy edges of the learner ability bins (see the module docstring and
        :func:`ability_bin`); None: one set of parameters per skill.
    ability_min_history : int, default 1
        Earlier responses a learner needs to leave bin 0 ("no history yet").
    max_fit_length : int or None, default None
        Fit on the first responses of each (learner, skill) only (all when None).
    random_state : int, default 0
        Seed of the restarts' starting points.

    Attributes
    ----------
    skills_ : list of str, length n_skills
    keys_ : list of str, length n_keys
        Parameter rows: the skills, or (skill, ability bin) keys with ``ability_bins``.
    params_ : dict of str to numpy.ndarray
        ``p_init``... each shape (n_keys + 1,): the last entry is for unseen keys.
    units_ : list of str
        (key, item) units of ``unit_guess``/``unit_slip`` in ``params_`` (empty unless
        ``per_item_guess_slip``).
    n_iter_ : int
    log_likelihood_ : float
    """

    def __init__(
        self,
        forgetting: bool = False,
        per_item_guess_slip: bool = False,
        max_guess: float = MAX_GUESS_SLIP,
        max_slip: float = MAX_GUESS_SLIP,
        max_learn: float = MAX_LEARN,
        max_forget: float = MAX_FORGET,
        min_prob: float = PROB_FLOOR,
        n_init: int = DEFAULT_N_INIT,
        max_iter: int = DEFAULT_MAX_ITER,
        tol: float = DEFAULT_TOL,
        ability_bins: Sequence[float] | None = None,
        ability_min_history: int = 1,
        max_fit_length: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.forgetting = forgetting
        self.per_item_guess_slip = per_item_guess_slip
        self.max_guess = max_guess
        self.max_slip = max_slip
        self.max_learn = max_learn
        self.max_forget = max_forget
        self.min_prob = min_prob
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.ability_bins = ability_bins
        self.ability_min_history = ability_min_history
        self.max_fit_length = max_fit_length
        self.random_state = random_state

    @property
    def name(self) -> str:
        """``"bkt"``, ``"bkt-forget"``, with ``"-item"`` for per-item guess/slip and
        ``"-ability"`` for ability bins."""
        forget, item = "-forget" * self.forgetting, "-item" * self.per_item_guess_slip
        return f"bkt{forget}{item}{'-ability' * (self.ability_bins is not None)}"

    # -- encoding ----------------------------------------------------------------------

    def _chain(self, responses: pl.DataFrame) -> _Chain:
        keys = self._param_keys(responses)
        n_keys = len(self.keys_)
        code = sq.codes(keys, self.keys_)
        code = np.where(code < 0, n_keys, code)
        unit = sq.codes(self._unit_keys(keys, responses), self.units_)
        learner, skill = (
            responses.get_column(c).rank("dense").to_numpy().astype(np.int64)
            for c in ("learner_id", "skill")
        )
        # One sequence per (learner, skill): every response of it has the same key.
        sequence = learner * (responses.height + 1) + skill
        return _Chain(code, unit, responses.get_column("correct").to_numpy(), sequence)

    def _param_keys(self, responses: pl.DataFrame) -> pl.Series:
        """Parameter key of every response: its skill, or "skill<SEP>bin" with ability bins."""
        skill = responses.get_column("skill")
        if self.ability_bins is None:
            return skill
        bins = sequence_bins(responses, self.ability_bins, self.ability_min_history)
        return skill + _SEP + pl.Series(bins).cast(pl.String)

    @staticmethod
    def _unit_keys(keys: pl.Series, responses: pl.DataFrame) -> pl.Series:
        return keys + _SEP + responses.get_column("item_id")

    # -- fitting -----------------------------------------------------------------------

    def _check_settings(self) -> None:
        """``ValueError`` naming a setting out of range (see :mod:`.checks`)."""
        upper = Bound(low=self.min_prob, high=1, low_open=True)
        check_settings(
            "BKT",
            self,
            {
                "min_prob": Bound(low=0, high=0.5, high_open=True),
                "max_guess": upper,
                "max_slip": upper,
                "max_learn": upper,
                "max_forget": upper,
                "n_init": POSITIVE_INT,
                "max_iter": Bound(low=0, integer=True),
                "tol": Bound(low=0),
                "ability_min_history": Bound(low=0, integer=True),
                "max_fit_length": Bound(low=1, integer=True, optional=True),
            },
        )

    def _bounds(self) -> dict[str, tuple[float, float]]:
        low = self.min_prob
        return {
            "p_init": (low, 1 - low),
            "p_learn": (low, self.max_learn),
            "p_forget": (low, self.max_forget) if self.forgetting else (0.0, 0.0),
            "p_guess": (low, self.max_guess),
            "p_slip": (low, self.max_slip),
        }

    def _start(self) -> dict[str, np.ndarray]:
        """Starting points (n_init, n_skills + 1): :data:`EM_START`, then random ones."""
        rng = np.random.default_rng(self.random_state)
        size = (self.n_init, len(self.keys_) + 1)
        p = {k: rng.uniform(*INIT_RANGES[k], size=size) for k in PARAMS}
        for k in PARAMS:
            p[k][0] = EM_START[k]
        p = self._clip(p)
        p["unit_guess"] = p["p_guess"][:, self.unit_skill_]
        p["unit_slip"] = p["p_slip"][:, self.unit_skill_]
        return p

    def _clip(self, p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Parameters within the bounds; NaN (no data) -> the EM starting point."""
        bounds = self._bounds()
        bounds["unit_guess"], bounds["unit_slip"] = bounds["p_guess"], bounds["p_slip"]
        start = {**EM_START, "unit_guess": EM_START["p_guess"], "unit_slip": EM_START["p_slip"]}
        return {k: np.clip(np.nan_to_num(v, nan=start[k]), *bounds[k]) for k, v in p.items()}

    def _m_step(self, chain: _Chain, p, gamma1, xi) -> dict[str, np.ndarray]:
        """Parameters maximising the expected complete log-likelihood, within the bounds."""
        size, obs, first = len(self.keys_) + 1, chain.obs, slice(0, int(chain.packed.sizes[0]))
        gamma0 = 1 - gamma1
        sums = {"p_guess": (gamma0 * obs, gamma0), "p_slip": (gamma1 * ~obs, gamma1)}
        with np.errstate(invalid="ignore", divide="ignore"):  # a skill without data: NaN
            new = {
                "p_init": _per(chain.seq_skill, gamma1[:, first], size)
                / np.bincount(chain.seq_skill, minlength=size),
                "p_learn": _per(chain.skill, xi["01"], size)
                / _per(chain.skill, xi["00"] + xi["01"], size),
                "p_forget": _per(chain.skill, xi["10"], size)
                / _per(chain.skill, xi["10"] + xi["11"], size),
            }
            for key, (num, den) in sums.items():
                new[key] = _per(chain.skill, num, size) / _per(chain.skill, den, size)
        new = self._clip(new)
        for key, unit_key in (("p_guess", "unit_guess"), ("p_slip", "unit_slip")):
            new[unit_key] = p[unit_key]
            if self.units_:  # shrink each (skill, item) toward its skill's value
                num, den = sums[key]
                pull = ITEM_PRIOR_STRENGTH * new[key][:, self.unit_skill_]
                new[unit_key] = (_per(chain.unit, num, len(self.units_)) + pull) / (
                    _per(chain.unit, den, len(self.units_)) + ITEM_PRIOR_STRENGTH
                )
        return self._clip(new)

    def _e_step(self, chain: _Chain, p):
        """Posterior P(known) (R, n), transition expectations, log-likelihood per skill."""
        _, _, e0, e1 = chain.emissions(p)
        _, post, scale, _ = chain.forward(p, e0, e1)
        m0, m1, b0, b1 = chain.backward(p, e0, e1)
        with np.errstate(invalid="ignore"):  # 0/0 where the past and future contradict
            gamma1 = post * b1 / (post * b1 + (1 - post) * b0)
        gamma1 = np.where(np.isfinite(gamma1), gamma1, post)
        learn, forget = p["p_learn"][:, chain.skill], p["p_forget"][:, chain.skill]
        xi = {
            "00": (1 - post) * (1 - learn) * m0,
            "01": (1 - post) * learn * m1,
            "10": post * forget * m0,
            "11": post * (1 - forget) * m1,
        }
        total = sum(xi.values())
        total[total == 0] = 1.0  # sequence ends: no transition
        xi = {key: value / total for key, value in xi.items()}
        return gamma1, xi, _per(chain.skill, np.log(scale), len(self.keys_) + 1)

    def fit(self, X: sq.Inputs, y: None = None) -> BKT:
        """Fit every skill's parameters by EM.

        Parameters
        ----------
        X : polars.DataFrame or sequence of (skills, correct)
            An event frame or DKT sequences (see :func:`sequences.response_frame`).
        y : None
            Ignored: the outcomes are in ``X``.

        Returns
        -------
        BKT
            self, fitted.
        """
        self._check_settings()
        responses = sq.response_frame(X)
        if self.max_fit_length is not None:
            rank = pl.int_range(pl.len()).over("learner_id", "skill")
            responses = responses.filter(rank < self.max_fit_length)
        self.skills_ = sorted(responses.get_column("skill").unique().to_list())
        keys = self._param_keys(responses)
        self.keys_ = sorted(keys.unique().to_list())
        units = self._unit_keys(keys, responses).unique().sort().to_list()
        self.units_ = units if self.per_item_guess_slip else []
        self.unit_skill_ = _unit_skills(self.units_, self.keys_)
        chain = self._chain(responses)
        p, last, self.n_iter_ = self._start(), -math.inf, 0
        while self.n_iter_ < self.max_iter and chain.obs.size:
            self.n_iter_ += 1
            gamma1, xi, loglik = self._e_step(chain, p)
            p = self._m_step(chain, p, gamma1, xi)
            if loglik.sum() - last < self.tol * abs(loglik.sum()):
                break
            last = loglik.sum()
        loglik = self._e_step(chain, p)[2] if chain.obs.size else np.zeros(p["p_init"].shape)
        self._keep_best(p, loglik)
        return self

    def _keep_best(self, p: dict[str, np.ndarray], loglik: np.ndarray) -> None:
        """Each skill's most likely restart; unseen-skill defaults = medians over skills."""
        n_skills = len(self.keys_)
        best, skills = np.argmax(loglik[:, :n_skills], axis=0), np.arange(n_skills)
        self.params_ = {}
        for key in PARAMS:
            chosen = p[key][best, skills]
            default = np.median(chosen) if n_skills else EM_START[key]
            self.params_[key] = np.r_[chosen, default]
        if not self.forgetting:
            self.params_["p_forget"][:] = 0.0
        units = np.arange(len(self.units_))
        for key in ("unit_guess", "unit_slip"):
            self.params_[key] = p[key][best[self.unit_skill_], units]
        self.log_likelihood_ = float(loglik[best, skills].sum())
        self._build_lookup()

    def _build_lookup(self) -> None:
        """Plain-Python parameter rows for :meth:`update` (no numpy on the online path)."""
        rows = zip(*(self.params_[k].tolist() for k in PARAMS), strict=True)
        self.lookup_ = dict(zip([*self.keys_, None], rows, strict=True))
        guess, slip = self.params_["unit_guess"].tolist(), self.params_["unit_slip"].tolist()
        unit_rows = zip(guess, slip, strict=True)
        self.unit_lookup_ = dict(zip(self.units_, unit_rows, strict=True))

    # -- predicting --------------------------------------------------------------------

    def _forward(self, X: sq.Inputs) -> tuple[pl.DataFrame, np.ndarray, np.ndarray, tuple]:
        """Responses; P(correct) and prior P(known) per response (n,), in response order;
        (final P(known), response index of the first response) per sequence (n_seq,)."""
        check_fitted(self, "params_")
        responses = sq.response_frame(X)
        chain = self._chain(responses)
        p = {key: value[None, :] for key, value in self.params_.items()}
        guess, slip, e0, e1 = chain.emissions(p)
        prior, _, _, known = chain.forward(p, e0, e1)
        p_correct, p_known = np.empty(chain.obs.size), np.empty(chain.obs.size)
        p_correct[chain.packed.order] = (prior * (1 - slip) + (1 - prior) * guess)[0]
        p_known[chain.packed.order] = prior[0]
        return responses, p_correct, p_known, (known[0], chain.packed.first_index)

    def predict_proba(self, X: sq.Inputs) -> np.ndarray:
        """Next-step P(correct) of every response given the learner's earlier ones.

        Parameters
        ----------
        X : polars.DataFrame or sequence of (skills, correct)

        Returns
        -------
        numpy.ndarray, shape (n_responses,)
            In the order of :func:`sequences.response_frame` (one per response and skill).
        """
        return self._forward(X)[1]

    def predict_frame(self, X: sq.Inputs) -> pl.DataFrame:
        """:meth:`predict_proba` as rows, with ``p_known`` before the response.

        Returns
        -------
        polars.DataFrame, shape (n_responses, 11)
            See :func:`sequences.prediction_rows` for ``confidence``, ``model``, ``reason``.
        """
        responses, p_correct, p_known, _ = self._forward(X)
        rows = sq.prediction_rows(responses, p_correct, self.name)
        return rows.with_columns(p_known=p_known)

    def mastery(self, X: sq.Inputs) -> pl.DataFrame:
        """P(known) of every (learner, skill) in ``X`` after the learner's last response.

        Returns
        -------
        polars.DataFrame, one row per (learner, skill) practised
            See :func:`sequences.mastery_rows`.
        """
        responses, _, _, (known, first) = self._forward(X)
        p_known = responses[first].select("learner_id", "skill").with_columns(p_known=known)
        return sq.mastery_rows(responses, p_known, self.name)

    def update(
        self,
        state: dict[str, float],
        skill: str,
        correct: bool,
        item: str | None = None,
        history: AbilityHistory | None = None,
    ) -> float:
        """Update one learner's mastery from one new response (online, well under 1 ms).

        Parameters
        ----------
        state : dict of str to float
            The learner's P(known) per skill, changed in place; a missing skill starts at
            its ``p_init`` (an unseen skill at the defaults).
        skill : str
        correct : bool
            True or False (or 1 or 0); anything else is a ValueError.
        item : str, optional
            With ``per_item_guess_slip``, the item answered.
        history : AbilityHistory, optional
            With ``ability_bins``, the learner's history: a skill's first response fixes its
            bin in ``history.bins``. The caller counts each attempt once, after updating
            every skill of it, with :meth:`AbilityHistory.record`. Without it, the learner
            counts as one without history (bin 0).

        Returns
        -------
        float
            P(known) of ``skill`` at the next opportunity, as :meth:`mastery` gives it.
        """
        check_fitted(self, "params_")
        correct = check_correct(correct)
        key = skill if self.ability_bins is None else self._ability_key(skill, history)
        p_init, learn, forget, guess, slip = self.lookup_.get(key) or self.lookup_[None]
        if item is not None and self.unit_lookup_:
            guess, slip = self.unit_lookup_.get(key + _SEP + item, (guess, slip))
        known = state.get(skill, p_init)
        f1, f0 = (
            (known * (1 - slip), (1 - known) * guess)
            if correct
            else (
                known * slip,
                (1 - known) * (1 - guess),
            )
        )
        posterior = f1 / (f0 + f1)
        state[skill] = posterior * (1 - forget) + (1 - posterior) * learn
        return state[skill]

    def _ability_key(self, skill: str, history: AbilityHistory | None) -> str:
        if history is None:
            return f"{skill}{_SEP}0"
        if skill not in history.bins:
            history.bins[skill] = history.bin(self.ability_bins, self.ability_min_history)
        return f"{skill}{_SEP}{history.bins[skill]}"

    def params_frame(self) -> pl.DataFrame:
        """Fitted parameters, one row per skill, or per (skill, ``ability_bin``) with ability
        bins (the unseen-key defaults excluded)."""
        check_fitted(self, "params_")
        params = {k: self.params_[k][: len(self.keys_)] for k in PARAMS}
        if self.ability_bins is None:
            return pl.DataFrame({"skill": self.keys_, **params})
        skill, bin_ = zip(*(key.rsplit(_SEP, 1) for key in self.keys_), strict=True) or ((), ())
        frame = pl.DataFrame({"skill": list(skill), "ability_bin": list(bin_), **params})
        return frame.with_columns(pl.col("ability_bin").cast(pl.Int64))

    # -- persistence -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description of the fitted model (see :meth:`from_dict`)."""
        check_fitted(self, "params_")
        return {
            "model": self.name,
            "format": 1,
            "settings": self.get_params(),
            "skills": self.skills_,
            "keys": self.keys_,
            "units": self.units_,
            "params": {key: value.tolist() for key, value in self.params_.items()},
            "n_iter": self.n_iter_,
            "log_likelihood": self.log_likelihood_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BKT:
        """The model :meth:`to_dict` described, fitted, predicting identically."""
        settings = dict(data["settings"])
        if settings.get("ability_bins") is not None:  # JSON made the tuple a list
            settings["ability_bins"] = tuple(settings["ability_bins"])
        model = cls(**settings)
        model.skills_, model.units_ = list(data["skills"]), list(data["units"])
        model.keys_ = list(data.get("keys", model.skills_))  # files before ability bins
        model.params_ = {
            key: np.asarray(value, dtype=float) for key, value in data["params"].items()
        }
        model.unit_skill_ = _unit_skills(model.units_, model.keys_)
        model.n_iter_, model.log_likelihood_ = data["n_iter"], data["log_likelihood"]
        model._build_lookup()
        return model

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as JSON (whole or not at all)."""
        write_text(path, json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> BKT:
        """Read a model :meth:`save` wrote."""
        return read_model_file(path, cls.from_dict, "BKT")
