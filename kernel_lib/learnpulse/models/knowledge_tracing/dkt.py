"""Deep Knowledge Tracing (Piech et al., NeurIPS 2015): a recurrent net over responses.

Each response ``(skill, correct)`` enters as one of ``2 * n_skills`` one-hot codes (held as an
embedding lookup, which equals a one-hot vector times a weight matrix); an LSTM or GRU carries the
learner's state; a linear layer maps the state to one logit per skill: the probability that the
learner answers that skill correctly at the next step.

Long sequences are cut into training windows of at most ``window`` prediction steps. Consecutive
windows overlap by one response, so every (response, next response) pair is trained exactly once,
and each window starts from a fresh state (truncated sequences, as in the public DKT code).
Prediction (:meth:`DKT.predict_proba`, :meth:`DKT.mastery`, :meth:`DKT.update`) always runs the
whole sequence with the state carried through.

Inputs are event frames (``learner_id``, ``ts``, ``skills``, ``correct``) or DKT sequences
(a list of ``(skill ids, correct)`` arrays, see :func:`learnpulse.datasets.read_dkt_sequences`);
see :func:`as_sequences`.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from torch import nn
from tqdm.auto import tqdm

from learnpulse.files import replacing
from learnpulse.models.knowledge_tracing._dkt_parts import (
    DKTData,
    DKTNet,
    as_sequences,
    make_batches,
    read_saved,
    roc_auc,
    windows,
)
from learnpulse.models.knowledge_tracing.checks import (
    FRACTION,
    POSITIVE,
    POSITIVE_INT,
    check_correct,
    check_settings,
)

__all__ = ["DKT", "DKTState", "as_sequences", "roc_auc"]

MODEL_NAME = "dkt"
"""Name carried by every prediction row."""
MODEL_VERSION = "1.0"
"""Version of this implementation (bump when predictions change for the same weights)."""

DEFAULT_HIDDEN_SIZE = 100
"""Units of the recurrent state (Piech et al. used 200; 100 trains twice as fast on CPU)."""
DEFAULT_LEARNING_RATE = 5e-3
"""Adam step size."""
DEFAULT_BATCH_SIZE = 64
"""Training windows per optimisation step."""
DEFAULT_MAX_EPOCHS = 20
"""Upper bound on passes over the training learners."""
DEFAULT_PATIENCE = 2
"""Epochs without a better validation loss before training stops."""
DEFAULT_VALIDATION_FRACTION = 0.1
"""Share of learners held out (seeded) for early stopping."""
DEFAULT_WINDOW = 200
"""Most prediction steps in one training window (longer sequences are split)."""
DEFAULT_DROPOUT = 0.2
"""Dropout on the recurrent state before the output layer (training only)."""
DEFAULT_MAX_GRAD_NORM = 1.0
"""Gradient-norm clip per step."""
CONFIDENCE_PSEUDO_COUNT = 3.0
"""A mastery row's confidence is ``n / (n + CONFIDENCE_PSEUDO_COUNT)``, ``n`` the learner's
responses on that skill: an unseen skill gets 0, three responses 0.5."""
PREDICT_BATCH_SIZE = 256
"""Sequences per forward pass when predicting."""
CELLS = ("lstm", "gru")

Data = pl.DataFrame | Sequence[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class DKTState:
    """A learner's recurrent state for live updates (see :meth:`DKT.update`).

    Attributes
    ----------
    hidden : torch.Tensor or tuple of torch.Tensor
        Shape (1, 1, hidden_size); a pair ``(h, c)`` for an LSTM.
    n_responses : int
        Responses folded in so far.
    """

    hidden: torch.Tensor | tuple[torch.Tensor, torch.Tensor]
    n_responses: int = 0


def _device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"DKT device must be 'auto', 'cpu', 'cuda' or another torch device, not {device!r}"
        ) from None


def _available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class DKT:
    """Deep Knowledge Tracing estimator.

    Parameters
    ----------
    hidden_size : int
        See :data:`DEFAULT_HIDDEN_SIZE`.
    cell : {"lstm", "gru"}
    learning_rate, batch_size, max_epochs, patience, validation_fraction, window, dropout,
    max_grad_norm
        See the ``DEFAULT_*`` settings of this module.
    max_seconds : float or None
        Stop training after the epoch that crosses this wall-clock budget.
    device : str
        ``"auto"`` (CUDA when present, else CPU), ``"cpu"`` or a torch device string.
    n_threads : int or None
        CPU threads for torch (``torch.set_num_threads``, process-wide); None uses the cores
        this process may run on.
    random_state : int
        Seeds the validation split, batch order, initial weights and dropout.
    progress : bool
        Show a tqdm bar over epochs.

    Attributes
    ----------
    skills_ : list
        Skill labels in index order (ints for DKT sequences, strings for event frames).
    net_ : torch.nn.Module
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``val_auc``, ``seconds``.
    n_epochs_, best_epoch_ : int
    """

    model = MODEL_NAME
    version = MODEL_VERSION

    def __init__(
        self,
        hidden_size: int = DEFAULT_HIDDEN_SIZE,
        cell: str = "lstm",
        learning_rate: float = DEFAULT_LEARNING_RATE,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_epochs: int = DEFAULT_MAX_EPOCHS,
        patience: int = DEFAULT_PATIENCE,
        validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
        window: int = DEFAULT_WINDOW,
        dropout: float = DEFAULT_DROPOUT,
        max_grad_norm: float = DEFAULT_MAX_GRAD_NORM,
        max_seconds: float | None = None,
        device: str = "auto",
        n_threads: int | None = None,
        random_state: int = 0,
        progress: bool = True,
    ) -> None:
        self.hidden_size = hidden_size
        self.cell = cell
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.window = window
        self.dropout = dropout
        self.max_grad_norm = max_grad_norm
        self.max_seconds = max_seconds
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.progress = progress

    # -- scikit-learn style plumbing -------------------------------------------------------

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments."""
        names = self.__init__.__code__.co_varnames[1 : self.__init__.__code__.co_argcount]
        return {name: getattr(self, name) for name in names}

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise RuntimeError("this DKT is not fitted yet: call fit() or DKT.load() first")

    def _check_settings(self) -> None:
        """``ValueError`` naming a setting out of range (see :mod:`.checks`)."""
        if self.cell not in CELLS:
            raise ValueError(f"DKT cell must be one of {CELLS}, not {self.cell!r}")
        check_settings(
            "DKT",
            self,
            {
                "hidden_size": POSITIVE_INT,
                "learning_rate": POSITIVE,
                "batch_size": POSITIVE_INT,
                "max_epochs": POSITIVE_INT,
                "patience": POSITIVE_INT,
                "validation_fraction": FRACTION,
                "window": POSITIVE_INT,
                "dropout": FRACTION,
                "max_grad_norm": POSITIVE,
                "max_seconds": replace(POSITIVE, optional=True),
                "n_threads": replace(POSITIVE_INT, optional=True),
            },
        )
        _device(self.device)

    def _setup_torch(self) -> torch.device:
        threads = self.n_threads or _available_cores()
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        return _device(self.device)

    @property
    def name(self) -> str:
        """``"dkt-<cell> <version>"``, the ``model`` value of prediction rows."""
        return f"{MODEL_NAME}-{self.cell} {MODEL_VERSION}"

    # -- training ---------------------------------------------------------------------------

    def fit(self, data: Data) -> DKT:
        """Learn from event frames or DKT sequences (see :func:`as_sequences`).

        Learners are split (seeded) into training and validation; training stops when the
        validation loss has not improved for ``patience`` epochs, and the best weights are kept.
        With no learner having two responses, the model predicts the overall correct rate.

        Returns
        -------
        DKT
            self
        """
        self._check_settings()
        device = self._setup_torch()
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        seqs = as_sequences(data)
        self.skills_ = seqs.skills
        self._index_cache = None  # update() must look skills up among these, not the last fit's
        self.net_ = DKTNet(max(len(self.skills_), 1), self.hidden_size, self.cell, self.dropout)
        self.net_.to(device)
        self._init_bias(seqs)
        train, valid = self._split(seqs, rng)
        self.history_: list[dict[str, float]] = []
        self.n_epochs_ = self.best_epoch_ = 0
        train_batches = make_batches(windows(train, self.window), self.batch_size)
        if train_batches:
            valid_batches = make_batches(windows(valid, self.window), PREDICT_BATCH_SIZE)
            self._train(train_batches, valid_batches, rng)
        self.net_.eval()
        return self

    def _init_bias(self, seqs: DKTData) -> None:
        """Start the output bias at the logit of the overall correct rate."""
        responses = np.concatenate([c for _, c in seqs.sequences] or [np.zeros(0)])
        rate = float(np.clip(responses.mean() if responses.size else 0.5, 0.01, 0.99))
        with torch.no_grad():
            self.net_.out.bias.fill_(math.log(rate / (1 - rate)))

    def _split(self, seqs: DKTData, rng: np.random.Generator) -> tuple[list, list]:
        """(train, validation) sequences, learners shuffled with ``rng``."""
        order = rng.permutation(len(seqs.sequences))
        n_valid = round(self.validation_fraction * len(order))
        if n_valid >= len(order):
            n_valid = 0
        picked = [seqs.sequences[i] for i in order]
        return picked[n_valid:], picked[:n_valid]

    def _train(self, train: list, valid: list, rng: np.random.Generator) -> None:
        optimiser = torch.optim.Adam(self.net_.parameters(), lr=self.learning_rate)
        best_loss, best_state, waited = math.inf, None, 0
        started = time.perf_counter()
        bar = tqdm(range(1, self.max_epochs + 1), desc="DKT", disable=not self.progress)
        for epoch in bar:
            train_loss = self._epoch(train, optimiser, rng)
            val_loss, val_auc = self._evaluate(valid) if valid else (train_loss, math.nan)
            seconds = time.perf_counter() - started
            self.history_.append(
                {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "val_loss": val_loss,
                    "val_auc": val_auc,
                    "seconds": seconds,
                }
            )
            bar.set_postfix(loss=f"{train_loss:.4f}", val_loss=f"{val_loss:.4f}")
            self.n_epochs_ = epoch
            if val_loss < best_loss:
                best_loss, waited, self.best_epoch_ = val_loss, 0, epoch
                best_state = copy.deepcopy(self.net_.state_dict())
            else:
                waited += 1
            if waited >= self.patience or (self.max_seconds and seconds >= self.max_seconds):
                break
        bar.close()
        if best_state is not None:
            self.net_.load_state_dict(best_state)

    def _batch_logits(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, observed) of every prediction step in a padded batch, each shape (n,)."""
        device = self.net_.out.weight.device
        states = self.net_.states(batch["codes"].to(device), batch["lengths"])
        mask = batch["mask"][:, : states.shape[1]].to(device)
        skills = batch["next_skill"][:, : states.shape[1]].to(device)[mask]
        observed = batch["next_correct"][:, : states.shape[1]].to(device)[mask]
        return self.net_.target_logits(states[mask], skills), observed

    def _epoch(self, batches: list, optimiser: torch.optim.Optimizer, rng: np.random.Generator):
        """One pass in a shuffled batch order; returns the mean training loss per step."""
        self.net_.train()
        total, count = 0.0, 0
        for index in rng.permutation(len(batches)):
            logits, observed = self._batch_logits(batches[index])
            loss = nn.functional.binary_cross_entropy_with_logits(logits, observed)
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(self.net_.parameters(), self.max_grad_norm)
            optimiser.step()
            total, count = total + loss.item() * len(observed), count + len(observed)
        return total / max(count, 1)

    @torch.no_grad()
    def _evaluate(self, batches: list) -> tuple[float, float]:
        """(mean loss, AUC) over the prediction steps of ``batches``."""
        self.net_.eval()
        pairs = [self._batch_logits(batch) for batch in batches]
        logits = torch.cat([p[0] for p in pairs]).cpu()
        observed = torch.cat([p[1] for p in pairs]).cpu()
        loss = nn.functional.binary_cross_entropy_with_logits(logits, observed).item()
        return loss, roc_auc(observed.numpy(), torch.sigmoid(logits).numpy())

    # -- prediction -------------------------------------------------------------------------

    def predict_proba(self, data: Data) -> np.ndarray:
        """Pooled next-step predictions: P(response t correct | responses before t).

        Returns
        -------
        numpy.ndarray
            Shape (sum over learners of (n_responses - 1),): learners in input order, steps
            1..n-1 of each in time order; aligned with :meth:`next_step_outcomes`. Responses on
            skills unseen in training are dropped.
        """
        self._check_fitted()
        seqs = as_sequences(data, skills=self.skills_).sequences
        if not seqs:
            return np.zeros(0)
        final = self._run_whole(seqs)[0]
        return np.concatenate([p for p in final]) if final else np.zeros(0)

    def next_step_outcomes(self, data: Data) -> np.ndarray:
        """The observed correctness aligned with :meth:`predict_proba`, shape (n,), int8."""
        self._check_fitted()
        seqs = as_sequences(data, skills=self.skills_).sequences
        return np.concatenate([c[1:] for _, c in seqs] or [np.zeros(0, np.int8)])

    @torch.no_grad()
    def _run_whole(self, seqs: list) -> tuple[list[np.ndarray], np.ndarray]:
        """Run full sequences (no windows) in length-sorted batches.

        Returns
        -------
        (list of numpy.ndarray, numpy.ndarray)
            Per sequence the next-step predictions, shape (n_i - 1,); and the probabilities of
            every skill after the last response, shape (n_sequences, n_skills).
        """
        self._check_fitted()
        self.net_.eval()
        device = self.net_.out.weight.device
        steps: list[np.ndarray] = [np.zeros(0)] * len(seqs)
        last = np.zeros((len(seqs), len(self.skills_)), dtype=np.float32)
        for batch in make_batches(seqs, PREDICT_BATCH_SIZE, whole=True):
            states = self.net_.states(batch["codes"].to(device), batch["lengths"])
            lengths = batch["lengths"].tolist()
            ends = torch.tensor(lengths, device=device) - 1
            ends_probs = torch.sigmoid(self.net_.out(states[torch.arange(len(ends)), ends]))
            last[batch["index"]] = ends_probs.cpu().numpy()
            for row, (index, length) in enumerate(zip(batch["index"], lengths, strict=True)):
                ahead = torch.from_numpy(seqs[index][0][1:]).to(device)
                logits = self.net_.target_logits(states[row, : length - 1], ahead)
                steps[index] = torch.sigmoid(logits).cpu().numpy()
        return steps, last

    def mastery(self, data: Data) -> pl.DataFrame:
        """Per learner and skill, P(correct at the next attempt) from the final state.

        Returns
        -------
        polars.DataFrame
            One row per (learner, skill), shape (n_learners * n_skills, 7): ``learner_id``,
            ``skill_id`` (string), ``p_correct``, ``confidence`` (see
            :data:`CONFIDENCE_PSEUDO_COUNT`), ``n_attempts``, ``model``, ``reason``.
            Learners with no usable response get the model's prior.
        """
        self._check_fitted()
        converted = as_sequences(data, skills=self.skills_)
        n_skills = len(self.skills_)
        last = np.zeros((len(converted.sequences), n_skills), dtype=np.float32)
        present = [i for i, (s, _) in enumerate(converted.sequences) if len(s)]
        if present:
            last[present] = self._run_whole([converted.sequences[i] for i in present])[1]
        last[sorted(set(range(len(last))) - set(present))] = self._prior()
        counts = np.zeros((len(converted.sequences), n_skills), dtype=np.int64)
        for row, (skills, _) in enumerate(converted.sequences):
            counts[row] = np.bincount(skills, minlength=n_skills)
        learners = list(converted.learner_ids)
        if isinstance(data, pl.DataFrame) and "learner_id" in data.columns:
            # learners whose events hold no usable response (none scored, unknown skills)
            seen = {str(x) for x in learners}
            unseen = sorted(set(data.get_column("learner_id").cast(pl.String)) - seen)
            learners += unseen
            last = np.vstack([last, np.tile(self._prior(), (len(unseen), 1))])
            counts = np.vstack([counts, np.zeros((len(unseen), n_skills), dtype=np.int64)])
        return self._mastery_frame(learners, last, counts)

    def _prior(self) -> np.ndarray:
        """Probabilities before any response (from the zero initial state), shape (n_skills,)."""
        with torch.no_grad():
            return torch.sigmoid(self.net_.out.bias).cpu().numpy()

    def _mastery_frame(self, learners: list, last: np.ndarray, counts: np.ndarray) -> pl.DataFrame:
        n_learners, n_skills = last.shape
        totals = np.repeat(counts.sum(axis=1), n_skills)
        n = counts.reshape(-1)
        frame = pl.DataFrame(
            {
                "learner_id": np.repeat(np.array([str(x) for x in learners], dtype=str), n_skills),
                "skill_id": [str(s) for s in self.skills_] * n_learners,
                "p_correct": last.reshape(-1).astype(np.float64),
                "confidence": n / (n + CONFIDENCE_PSEUDO_COUNT),
                "n_attempts": n.astype(np.int64),
                "total": totals.astype(np.int64),
            }
        )
        reason = pl.format(
            "{} recurrent state after {} responses, {} on this skill",
            pl.lit(self.cell.upper()),
            "total",
            "n_attempts",
        )
        return frame.with_columns(model=pl.lit(self.name), reason=reason).drop("total")

    # -- live updates -----------------------------------------------------------------------

    def init_state(self) -> DKTState:
        """The state of a learner with no responses yet."""
        self._check_fitted()
        device = self.net_.out.weight.device
        zeros = torch.zeros(1, 1, self.hidden_size, device=device)
        return DKTState((zeros, zeros.clone()) if self.cell == "lstm" else zeros)

    @torch.inference_mode()
    def update(self, state: DKTState, skill: Any, correct: bool) -> tuple[DKTState, np.ndarray]:
        """Fold one response into a learner's state.

        Parameters
        ----------
        state : DKTState
            From :meth:`init_state` or a previous update of this model (not modified);
            anything else (e.g. BKT's dict of probabilities, another cell's or size's state)
            is a TypeError.
        skill
            A skill label from :attr:`skills_`.
        correct : bool
            True or False (or 1 or 0); anything else is a ValueError.

        Returns
        -------
        (DKTState, numpy.ndarray)
            The new state and P(correct at the next step) per skill, shape (n_skills,).
        """
        self._check_fitted()
        self._check_state(state)
        correct = check_correct(correct)
        index = self._skill_index().get(skill)
        if index is None:
            raise KeyError(f"skill {skill!r} was not seen in training")
        self.net_.eval()
        code = torch.tensor([[2 * index + int(correct)]], device=self.net_.out.weight.device)
        output, hidden = self.net_.rnn(self.net_.embed(code), state.hidden)
        probs = torch.sigmoid(self.net_.out(output[0, 0])).cpu().numpy()
        return DKTState(hidden, state.n_responses + 1), probs

    def _check_state(self, state: Any) -> None:
        """TypeError unless ``state`` has this model's recurrent shape (torch said "index 1 is
        out of bounds" for a GRU's state in an LSTM, and AttributeError for a dict)."""
        hidden = getattr(state, "hidden", None)
        parts = hidden if isinstance(hidden, tuple) else (hidden,)
        shape = (1, 1, self.hidden_size)
        if (
            not isinstance(state, DKTState)
            or len(parts) != (2 if self.cell == "lstm" else 1)
            or any(not isinstance(part, torch.Tensor) or part.shape != shape for part in parts)
        ):
            raise TypeError(
                f"state must be a DKTState of this model ({self.cell.upper()}, "
                f"{self.hidden_size} units) from init_state() or update(), not {state!r:.80}"
            )

    def _skill_index(self) -> dict[Any, int]:
        if getattr(self, "_index_cache", None) is None or len(self._index_cache) != len(
            self.skills_
        ):
            self._index_cache = {s: i for i, s in enumerate(self.skills_)}
        return self._index_cache

    # -- persistence ------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write config, skills, training summary and weights to one torch file (whole or
        not at all)."""
        self._check_fitted()
        payload = {
            "model": MODEL_NAME,
            "version": MODEL_VERSION,
            "params": {k: v for k, v in self.get_params().items()},
            "skills": list(self.skills_),
            "history": self.history_,
            "epochs": [self.n_epochs_, self.best_epoch_],
            "state_dict": {k: v.cpu() for k, v in self.net_.state_dict().items()},
        }
        with replacing(path) as temporary:
            torch.save(payload, temporary)

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> DKT:
        """Read a file written by :meth:`save` (weights only, no code is unpickled).

        Raises
        ------
        FileNotFoundError
        ValueError
            If the file is not one :meth:`save` wrote, saying what it is instead (empty,
            JSON, a pickled object, a damaged torch file...).
        """
        payload = read_saved(Path(path), MODEL_NAME)
        params = dict(payload["params"])
        if device is not None:
            params["device"] = device
        model = cls(**params)
        model.skills_ = [s.item() if hasattr(s, "item") else s for s in payload["skills"]]
        model.history_ = payload["history"]
        model.n_epochs_, model.best_epoch_ = payload["epochs"]
        model.net_ = DKTNet(
            max(len(model.skills_), 1), model.hidden_size, model.cell, model.dropout
        )
        model.net_.load_state_dict(payload["state_dict"])
        model.net_.to(model._setup_torch()).eval()
        return model
