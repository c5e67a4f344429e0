"""Container limits from fake cgroup v1 and v2 trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from learnpulse.collectors.cgroups import read_container_limits


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


def test_cgroup_v2_limits_of_the_process_group(tmp_path):
    root, proc = tmp_path / "cgroup", tmp_path / "proc-cgroup"
    _write(root, {"cgroup.controllers": "cpu memory", "memory.max": "max", "cpu.max": "max 100000"})
    _write(
        root / "user.slice" / "lab",
        {
            "memory.max": str(2 * 1024**3),
            "memory.current": str(512 * 1024**2),
            "cpu.max": "150000 100000",
            "cpu.stat": "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000",
        },
    )
    proc.write_text("0::/user.slice/lab\n")
    limits = read_container_limits(root, proc)
    assert limits.version == 2
    assert limits.cpu_limit_cores == 1.5
    assert limits.memory_limit_bytes == 2 * 1024**3
    assert limits.memory_usage_bytes == 512 * 1024**2
    assert limits.cpu_usage_s == 2.5


def test_cgroup_v2_without_limits_reports_none(tmp_path):
    root, proc = tmp_path / "cgroup", tmp_path / "proc-cgroup"
    _write(
        root,
        {
            "cgroup.controllers": "cpu memory",
            "memory.max": "max",
            "cpu.max": "max 100000",
            "memory.current": "1000",
        },
    )
    proc.write_text("0::/\n")
    limits = read_container_limits(root, proc)
    assert (limits.version, limits.cpu_limit_cores, limits.memory_limit_bytes) == (2, None, None)
    assert limits.memory_usage_bytes == 1000


def test_cgroup_v1_limits_with_combined_cpu_controller(tmp_path):
    root, proc = tmp_path / "cgroup", tmp_path / "proc-cgroup"
    _write(
        root / "memory" / "docker" / "abc",
        {"memory.limit_in_bytes": str(1024**3), "memory.usage_in_bytes": str(256 * 1024**2)},
    )
    _write(
        root / "cpu,cpuacct",
        {
            "cpu.cfs_quota_us": "200000",
            "cpu.cfs_period_us": "100000",
            "cpuacct.usage": "3000000000",
        },
    )
    proc.write_text("4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n")
    limits = read_container_limits(root, proc)
    assert limits.version == 1
    assert limits.memory_limit_bytes == 1024**3
    assert limits.memory_usage_bytes == 256 * 1024**2
    assert limits.cpu_limit_cores == 2.0
    assert limits.cpu_usage_s == 3.0


def test_cgroup_v1_unlimited_values_are_none(tmp_path):
    root, proc = tmp_path / "cgroup", tmp_path / "proc-cgroup"
    _write(root / "memory", {"memory.limit_in_bytes": "9223372036854771712"})
    _write(root / "cpu", {"cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000"})
    proc.write_text("")
    limits = read_container_limits(root, proc)
    assert (limits.version, limits.cpu_limit_cores, limits.memory_limit_bytes) == (1, None, None)


def test_no_cgroup_filesystem(tmp_path):
    limits = read_container_limits(tmp_path / "missing", tmp_path / "missing-proc")
    assert limits.version is None and limits.memory_limit_bytes is None


@pytest.mark.parametrize(
    ("cpu_max", "cores"),
    [("abc 100000", None), ("-1 100000", None), ("150000 0", None), ("100000", None)],
)
def test_cgroup_v2_odd_cpu_max_is_no_limit_not_an_error(tmp_path, cpu_max, cores):
    """A quota that was not a number raised ValueError (no sample, no metrics at all); -1
    gave a negative limit."""
    root, proc = tmp_path / "cgroup", tmp_path / "proc-cgroup"
    _write(root, {"cgroup.controllers": "cpu memory", "cpu.max": cpu_max, "memory.max": "max"})
    proc.write_text("0::/\n")
    assert read_container_limits(root, proc).cpu_limit_cores == cores
