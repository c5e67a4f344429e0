"""Derive the course simulator's data-based constants from the public data sets.

The simulator (``learnpulse.datasets.simulator``) hard-codes a few numbers as documented
constants in ``learnpulse.datasets.simulator_params`` so that it needs no data at run time.
This script recomputes every one of them so anyone can check where they come from:

* from OULAD (Kuzilek et al. 2017, CC-BY 4.0), ``studentInfo.csv`` and friends: the final
  result proportions, when withdrawn students unregister, how often a tutor-marked
  assignment (TMA) is handed in, handed in late, how late, and how it is scored;
* from ASSISTments 2009-2010 skill builder (DKT preprocessing, ``builder_train.csv``): per-skill
  Bayesian Knowledge Tracing parameters fitted by expectation-maximisation, summarised as the
  mean and spread (on the logit scale) across skills.

Run ``python benchmarks/derive_simulator_params.py`` (``--data DIR`` for another data folder,
``--check`` to fail when the recorded constants drift from the data).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import polars as pl

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: Only the first opportunities of a student on a skill are used: the long tail of the
#: DKT preprocessing is dominated by duplicated rows (see the data README).
MAX_OPPORTUNITIES = 100
#: Skills with fewer student sequences are too noisy to summarise.
MIN_SEQUENCES = 20
#: Usual BKT identifiability bounds: a learner who knows the skill must do better than one
#: who guesses, so guess and slip stay below 0.3 (Baker, Corbett & Aleven, ITS 2008).
MAX_GUESS_SLIP = 0.3
#: EM starting point, in the order _forward_backward takes the parameters.
EM_START = {"p_init": 0.5, "p_learn": 0.1, "p_guess": 0.2, "p_slip": 0.1}
EM_UPPER = {"p_init": 0.999, "p_learn": 0.999, "p_guess": MAX_GUESS_SLIP, "p_slip": MAX_GUESS_SLIP}
EM_ITERATIONS = 200
EM_TOLERANCE = 1e-6
WITHDRAWAL_QUANTILE_PROBS = tuple(i / 10 for i in range(11))


# -- OULAD ----------------------------------------------------------------------------------


def oulad_outcomes(oulad: Path) -> dict[str, float]:
    """Proportion of each ``final_result`` over all 21,333 registrations."""
    info = pl.read_csv(oulad / "studentInfo.csv")
    shares = info.get_column("final_result").value_counts(normalize=True)
    return dict(zip(shares["final_result"], shares["proportion"], strict=True))


def oulad_withdrawal_quantiles(oulad: Path) -> list[float]:
    """Deciles of when withdrawn students unregister, as a fraction of the presentation.

    Unregistering before the start (about a third of them) counts as 0, after the end as 1.
    """
    reg = pl.read_csv(oulad / "studentRegistration.csv", null_values=["", "?"])
    courses = pl.read_csv(oulad / "courses.csv")
    frac = (
        reg.join(courses, on=["code_module", "code_presentation"])
        .filter(pl.col("date_unregistration").is_not_null())
        .select((pl.col("date_unregistration") / pl.col("module_presentation_length")).clip(0, 1))
        .to_series()
        .to_numpy()
    )
    return [float(q) for q in np.quantile(frac, WITHDRAWAL_QUANTILE_PROBS)]


def oulad_tma_stats(oulad: Path) -> dict[str, float]:
    """Submission, lateness and score statistics of tutor-marked assignments (TMA).

    The submission rate counts, for every TMA, the students of its presentation still
    registered at its due date; lateness is ``date_submitted > date`` (banked results are
    carried over from an earlier presentation and ignored); the interval is the number of
    days between consecutive TMAs of a presentation, which scales lateness to other rhythms.
    """
    tma = pl.read_csv(oulad / "assessments.csv", null_values=["", "?"]).filter(
        pl.col("assessment_type") == "TMA"
    )
    subs = pl.read_csv(oulad / "studentAssessment.csv", null_values=["", "?"]).join(
        tma, on="id_assessment"
    )
    reg = pl.read_csv(oulad / "studentRegistration.csv", null_values=["", "?"])
    due = reg.join(tma, on=["code_module", "code_presentation"]).filter(
        pl.col("date_unregistration").is_null() | (pl.col("date_unregistration") > pl.col("date"))
    )
    handed = due.join(
        subs.select("id_assessment", "id_student"), on=["id_assessment", "id_student"], how="semi"
    )
    late_days = (pl.col("date_submitted") - pl.col("date")).filter(pl.col("is_banked") == 0)
    days = subs.select(late_days).to_series()
    scores = pl.read_csv(oulad / "studentAssessment_scored_subset.csv", null_values=["", "?"])
    score = scores.get_column("score").drop_nulls()
    gaps = (
        tma.sort("date")
        .select(pl.col("date").diff().over("code_module", "code_presentation"))
        .to_series()
    )
    return {
        "submission_rate": handed.height / due.height,
        "late_rate": float((days > 0).mean()),
        "late_days_median": float(days.filter(days > 0).median()),
        "late_log_spread": float(
            np.log(days.filter(days > 0).quantile(0.75) / days.filter(days > 0).quantile(0.25))
            / 1.349
        ),
        "interval_days_median": float(gaps.drop_nulls().median()),
        "score_mean": float(score.mean()),
        "score_std": float(score.std()),
    }


# -- ASSISTments BKT ------------------------------------------------------------------------


def read_dkt(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Responses of a DKT three-line file as flat arrays (student, skill, correct)."""
    lines = [line.strip().rstrip(",") for line in path.read_text().splitlines()]
    lines = [line for line in lines if line]
    students, skills, correct = [], [], []
    for number, start in enumerate(range(0, len(lines) - 2, 3)):
        skill = np.array(lines[start + 1].split(","), dtype=np.int64)
        students.append(np.full(skill.size, number))
        skills.append(skill)
        correct.append(np.array(lines[start + 2].split(","), dtype=np.int8))
    return np.concatenate(students), np.concatenate(skills), np.concatenate(correct)


def to_sequences(
    student: np.ndarray, skill: np.ndarray, correct: np.ndarray, max_len: int = MAX_OPPORTUNITIES
) -> tuple[np.ndarray, np.ndarray]:
    """Padded (student, skill) response sequences.

    Returns
    -------
    obs : numpy.ndarray, shape (n_sequences, max_len), int8
        Correctness in chronological order, -1 after the end of the sequence.
    seq_skill : numpy.ndarray, shape (n_sequences,)
        Skill id of each sequence.
    """
    order = np.lexsort((np.arange(student.size), skill, student))  # stable: keeps time order
    key = student[order] * (skill.max() + 1) + skill[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    seq = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, key.size]))
    position = np.arange(key.size) - starts[seq]
    keep = position < max_len
    obs = np.full((starts.size, max_len), -1, dtype=np.int8)
    obs[seq[keep], position[keep]] = correct[order][keep]
    return obs, skill[order][starts]


def _emissions(obs: np.ndarray, guess: np.ndarray, slip: np.ndarray):
    """P(observation | unknown), P(observation | known); 1 on padding (no observation)."""
    right, pad = obs == 1, obs < 0
    e0 = np.where(right, guess[:, None], 1 - guess[:, None])
    e1 = np.where(right, 1 - slip[:, None], slip[:, None])
    e0[pad], e1[pad] = 1.0, 1.0
    return e0, e1


def _forward_backward(obs, l0, learn, guess, slip):
    """Scaled forward-backward of the two-state BKT chain for every sequence at once.

    Returns posteriors gamma1 (known), xi01 and xi00 (transitions from unknown), shape
    (n_sequences, T) or (n_sequences, T - 1), and the total log-likelihood.
    """
    e0, e1 = _emissions(obs, guess, slip)
    n, t_max = obs.shape
    a0, a1, scale = np.empty((n, t_max)), np.empty((n, t_max)), np.empty((n, t_max))
    p0, p1 = 1 - l0, l0
    for t in range(t_max):
        f0, f1 = p0 * e0[:, t], p1 * e1[:, t]
        scale[:, t] = f0 + f1
        a0[:, t], a1[:, t] = f0 / scale[:, t], f1 / scale[:, t]
        p0, p1 = a0[:, t] * (1 - learn), a0[:, t] * learn + a1[:, t]
    b0, b1 = np.ones((n, t_max)), np.ones((n, t_max))
    for t in range(t_max - 2, -1, -1):
        n0, n1 = e0[:, t + 1] * b0[:, t + 1], e1[:, t + 1] * b1[:, t + 1]
        b0[:, t] = ((1 - learn) * n0 + learn * n1) / scale[:, t + 1]
        b1[:, t] = n1 / scale[:, t + 1]
    gamma1 = a1 * b1 / (a0 * b0 + a1 * b1)
    xi00 = a0[:, :-1] * (1 - learn[:, None]) * e0[:, 1:] * b0[:, 1:]
    xi01 = a0[:, :-1] * learn[:, None] * e1[:, 1:] * b1[:, 1:]
    xi11 = a1[:, :-1] * e1[:, 1:] * b1[:, 1:]
    total = xi00 + xi01 + xi11
    return gamma1, xi00 / total, xi01 / total, float(np.log(scale).sum())


def _m_step(
    obs: np.ndarray, seq_skill: np.ndarray, n_skills: int, gamma1, xi00, xi01
) -> dict[str, np.ndarray]:
    """Per-skill parameters maximising the expected log-likelihood, within the bounds."""
    seen, right = obs >= 0, obs == 1
    transition = seen[:, 1:]
    gamma0, gamma1 = np.where(seen, 1 - gamma1, 0.0), np.where(seen, gamma1, 0.0)

    def per_skill(values: np.ndarray) -> np.ndarray:
        return np.bincount(seq_skill, weights=values, minlength=n_skills)

    with np.errstate(invalid="ignore", divide="ignore"):  # a skill without data gives NaN
        p = {
            "p_init": per_skill(gamma1[:, 0]) / np.bincount(seq_skill, minlength=n_skills),
            "p_learn": per_skill((xi01 * transition).sum(1))
            / per_skill(((xi00 + xi01) * transition).sum(1)),
            "p_guess": per_skill((gamma0 * right).sum(1)) / per_skill(gamma0.sum(1)),
            "p_slip": per_skill((gamma1 * (seen & ~right)).sum(1)) / per_skill(gamma1.sum(1)),
        }
    return {
        key: np.clip(np.nan_to_num(value, nan=EM_START[key]), 1e-3, EM_UPPER[key])
        for key, value in p.items()
    }


def fit_bkt(obs: np.ndarray, seq_skill: np.ndarray, n_skills: int) -> dict[str, np.ndarray]:
    """Per-skill BKT (p_init, p_learn, p_guess, p_slip) by Baum-Welch EM, all skills at once.

    Parameters
    ----------
    obs : numpy.ndarray, shape (n_sequences, T)
        Padded correctness, -1 for no observation.
    seq_skill : numpy.ndarray, shape (n_sequences,)
    n_skills : int

    Returns
    -------
    dict of str to numpy.ndarray, each shape (n_skills,)
        The four parameters plus ``n_sequences`` per skill.
    """
    p = {key: np.full(n_skills, start) for key, start in EM_START.items()}
    last = -math.inf
    for _ in range(EM_ITERATIONS):
        gamma1, xi00, xi01, loglik = _forward_backward(obs, *(p[k][seq_skill] for k in EM_START))
        p = _m_step(obs, seq_skill, n_skills, gamma1, xi00, xi01)
        if abs(loglik - last) < EM_TOLERANCE * abs(loglik):
            break
        last = loglik
    return {**p, "n_sequences": np.bincount(seq_skill, minlength=n_skills)}


def summarise_bkt(fit: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Centre and spread across skills of each parameter, on the logit scale.

    Many skills sit on a bound (guess or slip at 0.3, learn near 0), which inflates a plain
    standard deviation of logits; the median and the interquartile range / 1.349 (the
    standard deviation of a normal with that IQR) are robust to it.
    """
    keep = fit["n_sequences"] >= MIN_SEQUENCES
    summary = {"skills_used": {"count": float(keep.sum())}}
    for key in ("p_init", "p_learn", "p_guess", "p_slip"):
        values = fit[key][keep]
        logits = np.log(values / (1 - values))
        q25, q50, q75 = np.quantile(logits, [0.25, 0.5, 0.75])
        summary[key] = {
            "median": float(np.median(values)),
            "mean": float(values.mean()),
            "logit_median": float(q50),
            "logit_spread": float((q75 - q25) / 1.349),
        }
    return summary


# -- report ---------------------------------------------------------------------------------


def derive(data: Path) -> dict[str, object]:
    """Every derived constant, keyed like the constants in ``simulator_params``."""
    oulad = data / "oulad"
    student, skill, correct = read_dkt(data / "assistments2009" / "builder_train.csv")
    obs, seq_skill = to_sequences(student, skill, correct)
    bkt = summarise_bkt(fit_bkt(obs, seq_skill, int(skill.max()) + 1))
    return {
        "outcomes": oulad_outcomes(oulad),
        "withdrawal_quantiles": oulad_withdrawal_quantiles(oulad),
        "tma": oulad_tma_stats(oulad),
        "bkt": bkt,
    }


def check(derived: dict[str, object], tolerance: float = 0.01) -> list[str]:
    """Differences between the derived numbers and the recorded constants."""
    from learnpulse.datasets import simulator_params as sp

    pairs = [
        (f"OULAD_FINAL_RESULT_RATES[{k}]", sp.OULAD_FINAL_RESULT_RATES[k], v)
        for k, v in derived["outcomes"].items()
    ]
    pairs += [
        (f"OULAD_WITHDRAWAL_QUANTILES[{i}]", sp.OULAD_WITHDRAWAL_QUANTILES[i], v)
        for i, v in enumerate(derived["withdrawal_quantiles"])
    ]
    tma = derived["tma"]
    pairs += [
        ("OULAD_TMA_SUBMISSION_RATE", sp.OULAD_TMA_SUBMISSION_RATE, tma["submission_rate"]),
        ("OULAD_TMA_LATE_RATE", sp.OULAD_TMA_LATE_RATE, tma["late_rate"]),
        ("OULAD_TMA_LATE_DAYS_MEDIAN", sp.OULAD_TMA_LATE_DAYS_MEDIAN, tma["late_days_median"]),
        ("OULAD_TMA_LATE_LOG_SPREAD", sp.OULAD_TMA_LATE_LOG_SPREAD, tma["late_log_spread"]),
        (
            "OULAD_TMA_INTERVAL_DAYS_MEDIAN",
            sp.OULAD_TMA_INTERVAL_DAYS_MEDIAN,
            tma["interval_days_median"],
        ),
    ]
    for key, recorded in sp.ASSISTMENTS_BKT_PRIORS.items():
        fitted = derived["bkt"][key]
        pairs += [
            (
                f"ASSISTMENTS_BKT_PRIORS[{key}]",
                recorded,
                (fitted["logit_median"], fitted["logit_spread"]),
            )
        ]
    problems = []
    for name, recorded, value in pairs:
        if not np.allclose(recorded, value, atol=tolerance * max(1.0, np.abs(value).max())):
            problems.append(f"{name}: recorded {recorded}, data gives {value}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--check", action="store_true", help="exit 1 if constants drifted")
    args = parser.parse_args(argv)
    derived = derive(args.data)
    for group, values in derived.items():
        print(f"{group}:")
        items = values.items() if isinstance(values, dict) else enumerate(values)
        for key, value in items:
            print(f"  {key}: {value}")
    if args.check:
        problems = check(derived)
        print("\n".join(problems) or "recorded constants match the data")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
