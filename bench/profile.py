"""Optional sampling profiles of the service processes during a phase (``--profile``), with py-spy.

py-spy is not a project dependency: install it in the venv (``.venv/bin/pip install py-spy``) to use this.
Each Python service process is sampled (non-blocking, 97 Hz) while the phase runs; the raw collapsed stacks
are kept, and the busiest frames of each process (self time, and inclusive time of our own code) are
printed and returned.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Profiler:
    def __init__(self, out_dir: Path, label: str, pids: dict[str, int]) -> None:
        self.out_dir = out_dir
        self.label = label
        self.pids = pids
        self.procs: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}

    def start(self) -> None:
        exe = py_spy()
        if exe is None:
            raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for name, pid in self.pids.items():
            out = self.out_dir / f"{self.label}-{name}.txt"
            proc = subprocess.Popen([exe, "record", "--pid", str(pid), "--rate", "97", "--nonblocking",
                                     "--format", "raw", "--output", str(out)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs[name] = (proc, out)

    def stop(self, top: int = 8) -> dict[str, Any]:
        """Stop sampling; per process, the samples taken and the busiest frames."""
        for proc, _ in self.procs.values():
            proc.send_signal(signal.SIGINT)
        report: dict[str, Any] = {}
        for name, (proc, out) in self.procs.items():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            report[name] = summarise(out, top)
        return report


# Frames every sample passes through (the process's entry points): no information in their share.
_ENTRY_FRAMES = frozenset({"<module>", "main", "run_service", "run_components", "_run_module_as_main", "_run_code"})


def _short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py:123)"
    head, _, where = frame.partition(" (")
    return f"{head} ({where.rsplit('/', 1)[-1]}" if where else head


def summarise(path: Path, top: int) -> dict[str, Any]:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {"samples": 0, "file": str(path)}
    for line in lines:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        self_time[_short(frames[-1])] += count
        for frame in set(frames):
            if "quanyi" in frame and "site-packages" not in frame and frame.split(" (")[0] not in _ENTRY_FRAMES:
                inclusive[_short(frame)] += count
    return {
        "samples": total,
        "file": str(path),
        "self": [{"frame": f, "pct": round(100 * c / total, 1)} for f, c in self_time.most_common(top)] if total else [],
        "inclusive_own_code": [{"frame": f, "pct": round(100 * c / total, 1)}
                               for f, c in inclusive.most_common(top)] if total else [],
    }
