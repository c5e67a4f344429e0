"""Container limits and usage from Linux control groups (v1 and v2), read from plain files.

Inside a container, host-wide numbers (16 cores, 64 GB) are not what the user may use: the
cgroup says so. Paths are parameters so tests can point them at fake cgroup trees.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: Where the cgroup filesystem is mounted.
CGROUP_ROOT = Path("/sys/fs/cgroup")
#: The current process's cgroup membership.
PROC_SELF_CGROUP = Path("/proc/self/cgroup")
#: cgroup v1 reports "no memory limit" as a huge number (PAGE_COUNTER_MAX pages); anything
#: at or above this many bytes is treated as unlimited.
V1_UNLIMITED_BYTES = 1 << 60


@dataclass(frozen=True)
class ContainerLimits:
    """What the control group allows and uses; None where there is no limit or no cgroup.

    Attributes
    ----------
    version : int or None
        1 or 2, None when no cgroup filesystem was found.
    cpu_limit_cores : float or None
        CPU quota in cores (``quota / period``).
    memory_limit_bytes, memory_usage_bytes : int or None
        Memory limit and current usage of the group.
    cpu_usage_s : float or None
        CPU time used by the group so far (seconds), to turn into a rate between samples.
    """

    version: int | None = None
    cpu_limit_cores: float | None = None
    memory_limit_bytes: int | None = None
    memory_usage_bytes: int | None = None
    cpu_usage_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.lstrip("-").isdigit() else None


def _ratio(quota: int | None, period: int | None) -> float | None:
    """CPU cores of a quota per period; None without a positive quota ("max", -1: no limit)."""
    return quota / period if quota and quota > 0 and period and period > 0 else None


def _membership(proc_cgroup: Path) -> dict[str, str]:
    """controller -> cgroup path of this process (v2's single hierarchy under key "")."""
    groups: dict[str, str] = {}
    for line in (_read(proc_cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(","):
                groups[controller] = parts[2]
    return groups


def _group_dir(base: Path, relative: str | None, probe: str) -> Path:
    """The process's own group directory under ``base`` if visible (it holds ``probe``),
    else ``base`` itself (inside a container the group is usually mounted as the root)."""
    if relative and relative != "/":
        candidate = base / relative.lstrip("/")
        if (candidate / probe).exists():
            return candidate
    return base


def _read_v2(root: Path, groups: dict[str, str]) -> ContainerLimits:
    group = _group_dir(root, groups.get(""), "memory.max")
    quota, _, period = (_read(group / "cpu.max") or "max").partition(" ")  # "max 100000"
    usage_us = None
    for line in (_read(group / "cpu.stat") or "").splitlines():
        name, _, value = line.partition(" ")
        if name == "usage_usec":
            usage_us = _int(value)
    return ContainerLimits(
        version=2,
        cpu_limit_cores=_ratio(_int(quota), _int(period)),
        memory_limit_bytes=_int(_read(group / "memory.max")),  # "max" -> None
        memory_usage_bytes=_int(_read(group / "memory.current")),
        cpu_usage_s=None if usage_us is None else usage_us / 1e6,
    )


def _read_v1(root: Path, groups: dict[str, str]) -> ContainerLimits:
    memory = _group_dir(root / "memory", groups.get("memory"), "memory.limit_in_bytes")
    cpu_base = next((root / n for n in ("cpu", "cpu,cpuacct") if (root / n).is_dir()), root)
    cpu = _group_dir(cpu_base, groups.get("cpu"), "cpu.cfs_quota_us")
    acct_base = next((root / n for n in ("cpuacct", "cpu,cpuacct") if (root / n).is_dir()), root)
    acct = _group_dir(acct_base, groups.get("cpuacct"), "cpuacct.usage")
    quota = _int(_read(cpu / "cpu.cfs_quota_us"))
    period = _int(_read(cpu / "cpu.cfs_period_us"))
    limit = _int(_read(memory / "memory.limit_in_bytes"))
    usage_ns = _int(_read(acct / "cpuacct.usage"))
    return ContainerLimits(
        version=1,
        cpu_limit_cores=_ratio(quota, period),
        memory_limit_bytes=limit if limit is not None and limit < V1_UNLIMITED_BYTES else None,
        memory_usage_bytes=_int(_read(memory / "memory.usage_in_bytes")),
        cpu_usage_s=None if usage_ns is None else usage_ns / 1e9,
    )


def read_container_limits(
    root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_SELF_CGROUP
) -> ContainerLimits:
    """Read the limits and usage of this process's control group (v2 first, then v1).

    Parameters
    ----------
    root : Path
        The cgroup mount point (``/sys/fs/cgroup``).
    proc_cgroup : Path
        The membership file (``/proc/self/cgroup``).

    Returns
    -------
    ContainerLimits
        ``version=None`` and no limits when neither hierarchy is found.
    """
    groups = _membership(proc_cgroup)
    if (root / "cgroup.controllers").exists():
        return _read_v2(root, groups)
    if (root / "memory").is_dir() or (root / "cpu").is_dir() or (root / "cpu,cpuacct").is_dir():
        return _read_v1(root, groups)
    return ContainerLimits()
