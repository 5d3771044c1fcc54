"""Fuzzing, CI-sized: every parser and decoder of user input ends in success or the user error
(targets in ``tests/fuzzing.py``; ``bench/fuzz.py`` runs them ≥ 10,000 cases each)."""

from __future__ import annotations

import pytest
from fuzzing import TARGETS
from hypothesis import HealthCheck, given, settings

# Few cases each here (decoding is the slow one); the long run is bench/fuzz.py.
EXAMPLES = {"audio container/header": 60}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_target(name):
    strategy, target = TARGETS[name]

    @settings(max_examples=EXAMPLES.get(name, 150), deadline=None, database=None,
              derandomize=True, suppress_health_check=list(HealthCheck))
    @given(strategy())
    def run(case):
        assert target(case) in ("ok", "user error")

    run()
