"""Time from process start to the main window on screen, over several runs.

    python tests/benchmarks/bench_ui_startup.py [--runs 10] [--platform offscreen|xcb]

Each run starts a fresh interpreter with `audience_manager.app.main(["--quit-after-show"])`; the app
prints the wall-clock time at which its window is exposed (AUDIENCE_MANAGER_STARTUP_LOG), and this
script subtracts the time just before it started the process. The package's bytecode is compiled by a
warm-up run first, as `pip install` does (a source checkout run under PYTHONDONTWRITEBYTECODE=1
compiles every module of ours on each start instead, about 0.2 s more).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

CODE = "import sys; from audience_manager.app import main; sys.exit(main(['--quit-after-show']))"
SHOWN = re.compile(r"window shown: (\d+\.\d+)")


def one_run(env: dict[str, str]) -> tuple[float, float]:
    started = time.time()
    done = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=60)
    ended = time.time()
    match = SHOWN.search(done.stderr)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"the app did not start: {done.stderr[-2000:]}")
    return float(match.group(1)) - started, ended - started


def measure(name: str, env: dict[str, str], runs: int) -> str:
    one_run(env)  # warm the OS file cache (and write bytecode when allowed)
    shown, total = zip(*(one_run(env) for _ in range(runs)), strict=True)
    print(f"{name}: shown {', '.join(f'{s:.2f}' for s in shown)}", file=sys.stderr)
    return (
        f"| {name} | {runs} | **{statistics.median(shown):.2f}** | {min(shown):.2f} | {max(shown):.2f} "
        f"| {statistics.median(total):.2f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    args = parser.parse_args()
    base = {
        **os.environ,
        "QT_QPA_PLATFORM": args.platform,
        "AUDIENCE_MANAGER_HOME": tempfile.mkdtemp(prefix="am-startup-"),
        "AUDIENCE_MANAGER_STARTUP_LOG": "1",
    }
    compiled = {k: v for k, v in base.items() if k != "PYTHONDONTWRITEBYTECODE"}
    rows = [measure(f"{args.platform}, bytecode compiled (installed)", compiled, args.runs)]
    print(
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
    print("| case | runs | median s to window shown | min | max | median s to exit |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
