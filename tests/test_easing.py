"""The one smoothstep shared by the portrait renderer, its jaw rig and the dub geometry."""

from __future__ import annotations

import numpy as np

from visemic.dub import geometry
from visemic.easing import smoothstep
from visemic.render.portrait import renderer, rig_jaw


def test_smoothstep_ends_flat_and_is_symmetric():
    x = np.linspace(-1.0, 2.0, 3001)
    y = smoothstep(x)
    assert np.all(y[x <= 0] == 0.0) and np.all(y[x >= 1] == 1.0)
    assert np.all(np.diff(y) >= 0)
    inside = (x > 0) & (x < 1)
    np.testing.assert_allclose(y[inside] + smoothstep(1.0 - x[inside]), 1.0, atol=1e-12)
    eps = 1e-4  # zero slope at both ends: no kink where an ease starts or stops
    assert smoothstep(eps) / eps < 1e-3 and (1.0 - smoothstep(1.0 - eps)) / eps < 1e-3
    assert smoothstep(0.5) == 0.5


def test_one_function_everywhere():
    assert geometry.smoothstep is smoothstep
    assert renderer.smoothstep is smoothstep
    assert rig_jaw.smoothstep is smoothstep
