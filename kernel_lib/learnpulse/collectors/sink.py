"""Deliver events to the store from a background thread, spooling to local files when it is away.

Callers (the notebook collector, :func:`learnpulse.track`) only put validated event records on
an in-memory queue; a writer thread appends them to the store in batches. When the store cannot
be reached, a batch is written to a JSON Lines file in the spool directory and retried later.
Nothing is lost (a batch leaves the queue only once it is stored or spooled) and nothing is
duplicated (every event carries its id from creation and the store skips ids it already has).

Spool files are claimed by renaming before delivery, so several processes sharing one spool
directory never deliver the same file at once; a file claimed by a process that died is handed
back to the pool.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from learnpulse.collectors.destinations import Deliver, default_destination
from learnpulse.events import EventValidationError

log = logging.getLogger(__name__)

#: Environment variable overriding where undelivered events are spooled.
SPOOL_DIR_ENV = "LEARNPULSE_SPOOL_DIR"
_SPOOLED = ".jsonl"
_SENDING = ".sending"
_REJECTED = ".rejected"


@dataclass(frozen=True)
class SinkConfig:
    """Tunables of an :class:`EventSink`.

    Attributes
    ----------
    batch_size : int
        Most events appended to the store in one transaction.
    gather_s : float
        How long the idle writer waits for an event before looking at the spool (seconds).
    retry_s : float
        Wait before trying an unreachable store again (seconds).
    max_queue : int
        Events held in memory at most; beyond it ``put`` spools directly (bounded memory).
    exit_timeout_s : float
        At interpreter exit, how long to try delivering before spooling what is left.
    """

    batch_size: int = 500
    gather_s: float = 0.2
    retry_s: float = 5.0
    max_queue: int = 100_000
    exit_timeout_s: float = 2.0


def default_spool_dir(deliver: Deliver | None = None) -> Path:
    """``$LEARNPULSE_SPOOL_DIR``, else ``<jupyter data dir>/learnpulse/spool``; with a
    destination that names itself (``spool_key``: a store's URL, a server's), a folder of its
    own in it.

    One folder for every destination delivered each process's spooled events wherever that
    process delivered: a kernel of one course's server (or a test's throwaway store) spooled
    them, another store received them. The folder holds ``destination.txt`` saying which
    destination it is for (never a password).
    """
    if os.environ.get(SPOOL_DIR_ENV):
        base = Path(os.environ[SPOOL_DIR_ENV])
    else:
        from jupyter_core.paths import jupyter_data_dir

        base = Path(jupyter_data_dir()) / "learnpulse" / "spool"
    try:
        key = getattr(deliver, "spool_key", None)
    except Exception:  # e.g. an unsupported store URL: the store says so when delivering
        log.debug("learnpulse: destination without a spool key", exc_info=True)
        key = None
    if not key:
        return base
    return base / hashlib.sha256(key.encode()).hexdigest()[:16]


class EventSink:
    """A background writer of events with a local spool for when the store is unreachable.

    Parameters
    ----------
    deliver : callable or None
        Stores one batch of event records or raises; default
        :func:`~learnpulse.collectors.destinations.default_destination`.
    spool_dir : path, optional
        Where undelivered batches wait; default :func:`default_spool_dir`.
    config : SinkConfig
        Batch size, timings and the memory bound.
    """

    def __init__(
        self,
        deliver: Deliver | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        config: SinkConfig = SinkConfig(),
    ):
        self.deliver = deliver if deliver is not None else default_destination()
        self.spool_dir = (
            Path(spool_dir) if spool_dir is not None else default_spool_dir(self.deliver)
        )
        self.config = config
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(config.max_queue)
        self._changed = threading.Condition()
        self._received = self._settled = 0
        self._delivered = self._spooled = self._rejected = 0
        self._retry_at = 0.0
        self._carry: list[dict[str, Any]] = []
        self._stopping = threading.Event()
        if self.spool_dir.is_dir():
            self._recover_orphans()
        self._thread = threading.Thread(target=self._run, name="learnpulse-sink", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    # -- producer side (any thread, must be cheap) -----------------------------------------

    def put(self, event: Mapping[str, Any]) -> None:
        """Hand one validated event record (JSON-serialisable) to the writer; never blocks."""
        with self._changed:
            self._received += 1
        if self._stopping.is_set():  # closed: no writer will take it from the queue
            self._spool_directly(event)
            return
        try:
            self._queue.put_nowait(dict(event))
        except queue.Full:  # memory bound reached: write straight to the spool
            self._spool_directly(event)

    def _spool_directly(self, event: Mapping[str, Any]) -> None:
        try:
            self._spool([dict(event)])
        except OSError as error:  # store away, memory full and the disk refuses: give up
            log.error("learnpulse: event %s lost: %s", event.get("id"), error)
        self._settle(1)

    def flush(self, timeout: float | None = None, *, include_spool: bool = False) -> bool:
        """Wait until every event put so far is stored or spooled (with ``include_spool``: stored).

        Returns
        -------
        bool
            True if that happened within ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            target = self._received
            if include_spool:
                self._retry_at = 0.0
                self._changed.notify_all()
            while self._settled < target or (include_spool and self._spool_files()):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                if not self._thread.is_alive():
                    return False
                self._changed.wait(0.05 if left is None else min(left, 0.05))
        return True

    def stats(self) -> dict[str, int]:
        """Events received, delivered, spooled (in all), rejected (kept aside as ``*.rejected``
        files in the spool directory) and now waiting in the spool."""
        pending = 0
        for path in self._spool_files():
            try:
                pending += sum(1 for _ in path.open("rb"))
            except OSError:  # claimed or delivered meanwhile
                continue
        return {
            "received": self._received,
            "delivered": self._delivered,
            "spooled": self._spooled,
            "rejected": self._rejected,
            "pending_in_spool": pending,
        }

    def close(self, timeout: float | None = None) -> None:
        """Stop the writer; what it could not store in time is spooled, never dropped."""
        if self._stopping.is_set():
            return
        self.flush(self.config.exit_timeout_s if timeout is None else timeout)
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        self._thread.join(self.config.exit_timeout_s if timeout is None else timeout)
        leftovers, self._carry = [*self._carry, *self._take(self._queue.qsize())], []
        if leftovers:
            try:
                self._spool(leftovers)
            except OSError as error:  # nowhere left to keep them
                log.error("learnpulse: %d event(s) lost at exit: %s", len(leftovers), error)
            self._settle(len(leftovers))
        atexit.unregister(self.close)
        close = getattr(self.deliver, "close", None)
        if callable(close):
            close()

    # -- writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._step()
            except Exception:  # the writer must survive anything; the batch stays carried
                log.exception("learnpulse: event writer step failed")
                time.sleep(self.config.retry_s)

    def _step(self) -> None:
        # A batch leaves ``_carry`` only once stored or spooled: if even the spool cannot be
        # written (disk full), it is retried at the next step instead of being dropped.
        self._carry = self._carry or self._gather()
        if self._carry:
            if self._reachable():
                self._send_or_spool(self._carry)
            else:
                self._spool(self._carry)
            batch, self._carry = self._carry, []
            self._settle(len(batch))
        if self._reachable() and self._spool_files():
            self._drain_spool()

    def _gather(self) -> list[dict[str, Any]]:
        try:
            first = self._queue.get(timeout=self.config.gather_s)
        except queue.Empty:
            return []
        return [first, *self._take(self.config.batch_size - 1)]

    def _take(self, n: int) -> list[dict[str, Any]]:
        taken = []
        for _ in range(n):
            try:
                taken.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return taken

    def _reachable(self) -> bool:
        return time.monotonic() >= self._retry_at

    def _send(self, batch: list[dict[str, Any]]) -> bool:
        """Deliver one batch; False (and a retry delay) when the store is unreachable."""
        try:
            self.deliver(batch)
        except EventValidationError as error:
            # Events are validated when created, so this is a bug, not an outage:
            # keep them aside for inspection instead of retrying forever.
            log.error("learnpulse: %d event(s) rejected by the store: %s", len(batch), error)
            self._write_file(batch, _REJECTED)
            self._rejected += len(batch)
            return True  # dealt with: not to be spooled or retried
        except Exception as error:
            log.warning("learnpulse: store unreachable, spooling events (%s)", error)
            self._retry_at = time.monotonic() + self.config.retry_s
            return False
        self._delivered += len(batch)
        return True

    def _send_or_spool(self, batch: list[dict[str, Any]]) -> None:
        if not self._send(batch):
            self._spool(batch)

    def _settle(self, n: int) -> None:
        with self._changed:
            self._settled += n
            self._changed.notify_all()

    # -- spool -----------------------------------------------------------------------------

    def _write_file(self, batch: list[dict[str, Any]], suffix: str) -> Path:
        lines = (json.dumps(event, default=str).encode() + b"\n" for event in batch)
        return self._write_lines(lines, suffix)

    def _write_lines(self, lines: Iterable[bytes], suffix: str) -> Path:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._label_spool_dir()
        name = f"{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        temporary = self.spool_dir / f".{name}.partial"
        with temporary.open("wb") as handle:
            handle.writelines(lines)
            handle.flush()
            os.fsync(handle.fileno())
        target = self.spool_dir / f"{name}{suffix}"
        temporary.replace(target)  # atomic: a reader never sees half a batch
        return target

    def _label_spool_dir(self) -> None:
        """``destination.txt``: which store or server this folder's events are for."""
        label = self.spool_dir / "destination.txt"
        if label.exists():
            return
        try:
            key = getattr(self.deliver, "spool_key", None)
        except Exception:  # as in default_spool_dir: no name, no label
            return
        if key:
            label.write_text(key + "\n")

    def _spool(self, batch: list[dict[str, Any]]) -> None:
        self._write_file(batch, _SPOOLED)
        self._spooled += len(batch)

    def _spool_files(self) -> list[Path]:
        try:
            return sorted(self.spool_dir.glob(f"*{_SPOOLED}"))
        except OSError:
            return []

    def _drain_spool(self) -> None:
        """Deliver spooled batches oldest first; stop at the first failure."""
        self._recover_orphans()
        for path in self._spool_files():
            claimed = path.with_name(f"{path.name}.{os.getpid()}{_SENDING}")
            try:
                path.rename(claimed)
            except OSError:  # another process claimed it first
                continue
            try:
                batch, broken = _parse_spooled(claimed.read_bytes())
            except OSError as error:
                log.error("learnpulse: unreadable spool file %s: %s", claimed, error)
                claimed.rename(claimed.with_suffix(_REJECTED))
                continue
            if batch and not self._send(batch):
                claimed.rename(path)
                return
            if broken:  # a file cut short (a crash, a full disk) or edited by hand
                kept = self._write_lines(broken, _REJECTED)
                message = "learnpulse: %d unreadable line(s) of spool file %s kept aside in %s"
                log.error(message, len(broken), path, kept)
            claimed.unlink()
            with self._changed:
                self._changed.notify_all()

    def _recover_orphans(self) -> None:
        """Give back files claimed by processes that died while delivering them."""
        for claimed in self.spool_dir.glob(f"*{_SENDING}"):
            original, _, pid = claimed.name.removesuffix(_SENDING).rpartition(".")
            if not original.endswith(_SPOOLED) or not pid.isdigit():
                continue  # not a claimed spool file: leave it alone
            if int(pid) != os.getpid() and not _alive(int(pid)):
                try:
                    claimed.rename(claimed.with_name(original))
                except OSError:
                    continue


def _parse_spooled(data: bytes) -> tuple[list[dict[str, Any]], list[bytes]]:
    """The events of a spool file's content, and the lines that are not one."""
    events, broken = [], []
    for line in data.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            event = None
        if isinstance(event, dict):
            events.append(event)
        elif line.strip():
            broken.append(line + b"\n")
    return events, broken


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
