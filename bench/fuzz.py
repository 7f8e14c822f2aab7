"""The fuzz properties of tests/hardening/test_fuzz.py, run far longer than `make test` does.

    .venv/bin/python bench/fuzz.py [--scale 20] [--json]
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, parser, report  # noqa: E402


def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--scale", type=int, default=20, help="times the normal suite's example count")
    args = ap.parse_args()
    root = Path(__file__).parents[1]
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/hardening/test_fuzz.py"],
        cwd=root, capture_output=True, text=True,
        env={**os.environ, "LAYERBRIDGE_FUZZ_SCALE": str(args.scale)},
    )
    seconds = time.perf_counter() - start
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
    passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", tail)) else 0
    failed = int(m.group(1)) if (m := re.search(r"(\d+) failed", tail)) else 0
    examples = (300 + 300 + 150) * args.scale
    lines = [f"fuzz: scale {args.scale} (~{examples} examples, server sessions of up to 6 frames), "
             f"{seconds:.0f} s ({machine()})", f"  {tail}"]
    if proc.returncode:
        lines.append(proc.stdout[-3000:])
    report(args, lines, {"examples": examples, "properties_passed": passed,
                         "properties_failed": failed, "seconds": round(seconds, 1)})
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
