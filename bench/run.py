"""`make bench`: run every benchmark in one go; each writes its own section of
docs/benchmarks.md (with the machine and the date). Loads target 127.0.0.1 only and every
benchmark stops by itself. Some need wrk (`apt-get install -y wrk`) and PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

BENCHES = [
    "bench.gateway_bench",
    "bench.registry",
    "bench.submissions",
    "bench.fanout",
    "bench.audit",
    "bench.performance_bench",
]


def main() -> int:
    if shutil.which("wrk") is None:
        print("note: wrk is not installed; benchmarks that need it will say so", flush=True)
    failed: list[str] = []
    for module in sys.argv[1:] or BENCHES:
        started = time.monotonic()
        print(f"== {module}", flush=True)
        rc = subprocess.call([sys.executable, "-m", module])
        print(f"== {module}: exit {rc} in {time.monotonic() - started:.0f} s", flush=True)
        if rc != 0:
            failed.append(module)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
