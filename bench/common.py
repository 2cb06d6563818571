"""What every benchmark needs: ports, child processes in their own session, and wrk's
report parsed into numbers. Loads only ever target 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a server in a session of its own, so :func:`stop` takes its workers too."""
    return subprocess.Popen(
        args,
        env={**os.environ, **env},
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def parse_wrk(out: str) -> dict[str, Any]:
    """Throughput, p50/p99 in ms, non-2xx count and socket errors from `wrk --latency`."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(label: str) -> float:
        m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": errors.group(1).strip() if errors else "none",
    }


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its direct children (uvicorn's or nginx's
    workers), from /proc."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return _cpu_seconds([pid, *(int(p) for p in found.split())])


def user_cpu_seconds(user: str) -> float:
    """CPU time of every process of ``user`` (e.g. all PostgreSQL backends), from /proc."""
    found = subprocess.run(["pgrep", "-u", user], capture_output=True, text=True).stdout
    return _cpu_seconds([int(p) for p in found.split()])


def _cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # ended between the listing and the read
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")
