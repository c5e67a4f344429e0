"""Building blocks of :mod:`learnpulse.models.knowledge_tracing.dkt`.

The network; event frames or DKT sequences -> integer sequences, training windows,
length-sorted padded batches; a tie-aware ROC AUC (no scikit-learn dependency); and reading
a saved model's file.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from learnpulse.models.knowledge_tracing.checks import check_pairs

Pair = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class DKTData:
    """Sequences ready for DKT.

    Attributes
    ----------
    learner_ids : list
        One per sequence: the frame's ``learner_id``, or the position in the input list.
    sequences : list of (numpy.ndarray, numpy.ndarray)
        Skill indices (int64, into ``skills``) and correctness (int8 0/1), each shape (n_i,),
        chronological.
    skills : list
        Skill labels in index order.
    """

    learner_ids: list
    sequences: list[Pair]
    skills: list


class DKTNet(nn.Module):
    """Embedding of ``2 * n_skills`` response codes -> LSTM/GRU -> one logit per skill."""

    def __init__(self, n_skills: int, hidden_size: int, cell: str, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(2 * n_skills, hidden_size)
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(hidden_size, hidden_size, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, n_skills)

    def states(self, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Recurrent outputs, shape (batch, max(lengths), hidden), for padded ``codes`` of shape
        (batch, time) sorted by decreasing ``lengths`` (on CPU)."""
        packed = pack_padded_sequence(self.embed(codes), lengths, batch_first=True)
        output, _ = self.rnn(packed)
        return pad_packed_sequence(output, batch_first=True)[0]

    def target_logits(self, states: torch.Tensor, skills: torch.Tensor) -> torch.Tensor:
        """Logit of the given skill per state: states (n, hidden), skills (n,) -> (n,)."""
        states = self.drop(states)
        weight = self.out.weight[skills]
        return (states * weight).sum(-1) + self.out.bias[skills]


def _frame_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Scored responses, one row per (event, skill), sorted by learner then time: attempts
    only when the frame has ``kind`` (as for BKT and PFA; other events may carry ``correct``
    too, e.g. a submitted assessment)."""
    missing = {"learner_id", "skills", "correct"} - set(frame.columns)
    if missing:
        raise ValueError(f"event frame lacks column(s) {sorted(missing)}")
    order = ["learner_id", "ts"] if "ts" in frame.columns else ["learner_id"]
    scored = pl.col("correct").is_not_null() & (pl.col("skills").list.len() > 0)
    if "kind" in frame.columns:
        scored = scored & (pl.col("kind") == "attempt")
    rows = frame.filter(scored)
    return (
        rows.sort(order, maintain_order=True)
        .select("learner_id", pl.col("skills").cast(pl.List(pl.String)), "correct")
        .explode("skills")
        .filter(pl.col("skills").is_not_null())
    )


def _from_frame(frame: pl.DataFrame, skills: list | None) -> DKTData:
    """Multi-skill events become one response per skill, in list order (as in the DKT data)."""
    rows = _frame_rows(frame)
    labels = rows.get_column("skills").to_list()
    if skills is None:
        skills = sorted(set(labels))
    index = {s: i for i, s in enumerate(skills)}
    codes = np.array([index.get(s, -1) for s in labels], dtype=np.int64)
    correct = rows.get_column("correct").cast(pl.Int8).to_numpy()
    keep = codes >= 0
    learners = rows.get_column("learner_id").to_numpy()[keep]
    codes, correct = codes[keep], correct[keep]
    if not len(codes):
        return DKTData([], [], list(skills))
    starts = np.flatnonzero(np.r_[True, learners[1:] != learners[:-1]])
    cuts = starts[1:]
    pairs = list(zip(np.split(codes, cuts), np.split(correct, cuts), strict=True))
    return DKTData(learners[starts].tolist(), pairs, list(skills))


def _from_pairs(pairs: Sequence[Pair], skills: list | None) -> DKTData:
    arrays = check_pairs(pairs)
    if skills is None:
        seen = np.concatenate([s for s, _ in arrays] or [np.zeros(0, np.int64)])
        skills = np.unique(seen).tolist()
    lookup = np.asarray(skills, dtype=np.int64)
    out = []
    for s, c in arrays:
        position = np.searchsorted(lookup, s) if len(lookup) else np.zeros(len(s), np.int64)
        known = position < len(lookup)
        known[known] = lookup[position[known]] == s[known]
        out.append((position[known].astype(np.int64), c[known]))
    return DKTData(list(range(len(out))), out, list(skills))


def as_sequences(data: Any, skills: list | None = None) -> DKTData:
    """Adapt event frames or DKT sequences.

    Parameters
    ----------
    data : polars.DataFrame or sequence of (skill ids, correct)
        An event frame needs ``learner_id``, ``skills`` (list of strings) and ``correct``
        (rows with a null ``correct`` or no skill are ignored; ``ts`` orders rows when present).
        DKT sequences are integer skill ids and 0/1 correctness per learner.
    skills : list, optional
        The skill vocabulary (sorted for integer ids); responses on other skills are dropped.
        Default: every skill present, sorted.

    Returns
    -------
    DKTData
    """
    if isinstance(data, pl.DataFrame):
        return _from_frame(data, skills)
    return _from_pairs(data, skills)


def windows(sequences: list[Pair], window: int) -> list[Pair]:
    """Cut sequences into pieces of at most ``window + 1`` responses (``window`` prediction
    steps), consecutive pieces sharing one response; pieces of fewer than 2 are dropped."""
    pieces = []
    for skills, correct in sequences:
        for start in range(0, max(len(skills) - 1, 0), window):
            stop = start + window + 1
            pieces.append((skills[start:stop], correct[start:stop]))
    return pieces


def make_batches(sequences: list[Pair], batch_size: int, whole: bool = False) -> list[dict]:
    """Length-sorted padded batches (length bucketing: similar lengths share a batch).

    Parameters
    ----------
    sequences : list of (skills, correct)
    batch_size : int
    whole : bool
        False (training): inputs are responses 0..n-2, targets 1..n-1; sequences of fewer than
        2 responses are skipped. True (prediction): inputs are all n responses; empty sequences
        are skipped.

    Returns
    -------
    list of dict
        ``codes`` (B, T) int64 = 2 * skill + correct; ``lengths`` (B,) int64 on CPU, decreasing;
        ``index`` (B,) positions in ``sequences``; and, for training, ``next_skill`` (B, T)
        int64, ``next_correct`` (B, T) float32 and ``mask`` (B, T) bool.
    """
    cut = 0 if whole else 1
    lengths = np.array([len(s) - cut for s, _ in sequences], dtype=np.int64)
    order = [i for i in np.argsort(-lengths, kind="stable") if lengths[i] > 0]
    batches = []
    for first in range(0, len(order), batch_size):
        chosen = order[first : first + batch_size]
        size, span = len(chosen), int(lengths[chosen[0]])
        codes = np.zeros((size, span), np.int64)
        next_skill = np.zeros((size, span), np.int64)
        next_correct = np.zeros((size, span), np.float32)
        for row, i in enumerate(chosen):
            skills, correct = sequences[i]
            n = int(lengths[i])
            codes[row, :n] = 2 * skills[:n] + correct[:n]
            next_skill[row, :n] = skills[cut : cut + n]
            next_correct[row, :n] = correct[cut : cut + n]
        batch = {
            "codes": torch.from_numpy(codes),
            "lengths": torch.from_numpy(lengths[chosen]),
            "index": list(chosen),
        }
        if not whole:
            batch["next_skill"] = torch.from_numpy(next_skill)
            batch["next_correct"] = torch.from_numpy(next_correct)
            batch["mask"] = torch.arange(span)[None, :] < batch["lengths"][:, None]
        batches.append(batch)
    return batches


def roc_auc(observed: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half); NaN when only one class is present.

    Parameters
    ----------
    observed : numpy.ndarray
        Shape (n,), 0/1.
    scores : numpy.ndarray
        Shape (n,).
    """
    observed = np.asarray(observed).astype(bool)
    n_pos = int(observed.sum())
    n_neg = len(observed) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(np.asarray(scores), return_inverse=True, return_counts=True)
    mean_rank = np.cumsum(counts) - (counts - 1) / 2.0
    rank_sum = mean_rank[inverse.reshape(-1)][observed].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def read_saved(path: Path, model_name: str) -> dict[str, Any]:
    """The payload ``DKT.save`` wrote to ``path`` (tensors and plain data only: no pickled
    code is ever run).

    Raises
    ------
    FileNotFoundError
    ValueError
        ``"<path> is not a saved DKT model: <what it is instead>"``; torch's own message, for
        a JSON file or a whole pickled model, advised re-running ``torch.load`` with
        ``weights_only=False`` (which runs the file's code) and filing an issue with PyTorch.
    """
    with path.open("rb") as file:
        head = file.read(64).lstrip()
    if not head:
        problem = "the file is empty"
    elif head[:1] in (b"{", b"["):
        problem = "it is JSON (BKT.save and PFA.save write JSON: read it with BKT.load or PFA.load)"
    else:
        try:
            with warnings.catch_warnings():  # torch's notes on the pickle protocol
                warnings.simplefilter("ignore")
                payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # any bytes: torch's readers raise whatever they meet
            problem = _not_a_payload(head, error)
        else:
            if isinstance(payload, dict) and payload.get("model") == model_name:
                return payload
            problem = "a torch file that DKT.save did not write"
    raise ValueError(f"{path} is not a saved DKT model: {problem}")


def _not_a_payload(head: bytes, error: Exception) -> str:
    """What a file starting with ``head`` is, given the error ``torch.load`` raised on it."""
    zipped = head.startswith(b"PK")  # torch.save's archive; a bare pickle starts with 0x80
    if isinstance(error, pickle.UnpicklingError) and (zipped or head.startswith(b"\x80")):
        return (
            "it holds pickled Python objects (e.g. torch.save of a whole model), which "
            "DKT.load never runs: save the model with DKT.save"
        )
    return "a torch file cut short or damaged" if zipped else "not a torch file"
