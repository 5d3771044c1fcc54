"""Fuzzing, long run: each parser/decoder of user input for ≥ 10,000 generated cases.

    python bench/fuzz.py [--cases 10000] [--target NAME ...] [--seed 0]

Targets (``tests/fuzzing.py``): audio container/header, text files, alignment JSON/TextGrid/CTM,
emotion tracks, batch CSV, WebSocket messages. Every case must end in success or the user error
(VisemicError; a close code on the WebSocket). Printed per target: cases run, how many ended
each way, failures (with the shrunk input), and the time taken.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzzing import TARGETS  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402


def run_target(name: str, cases: int, rng_seed: int) -> tuple[collections.Counter, str | None]:
    strategy, target = TARGETS[name]
    counts: collections.Counter = collections.Counter()

    @seed(rng_seed)
    @settings(max_examples=cases, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy())
    def run(case: object) -> None:
        try:
            counts[target(case)] += 1
        except BaseException:
            counts["failure"] += 1
            raise

    try:
        run()
    except Exception:
        return counts, traceback.format_exc(limit=-3)
    return counts, None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--target", action="append", choices=sorted(TARGETS))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"{'target':30s} {'cases':>7} {'ok':>7} {'user err':>8} {'failures':>8} {'time':>7}")
    failed = False
    for name in args.target or list(TARGETS):
        t0 = time.time()
        counts, failure = run_target(name, args.cases, args.seed)
        total = sum(counts.values())
        print(f"{name:30s} {total:7d} {counts['ok']:7d} {counts['user error']:8d} "
              f"{counts['failure']:8d} {time.time() - t0:6.0f}s", flush=True)
        if failure:
            failed = True
            print(failure)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
