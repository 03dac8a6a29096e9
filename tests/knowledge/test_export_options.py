"""The export script's options for other models (scripts/export_embedding_model.py): CLS or mean pooling, and
which exports may write the shipped model's directory."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.knowledge.script_modules import load_script


def export_script() -> ModuleType:
    """The script as a module (torch is imported only inside its functions)."""
    return load_script("export_embedding_model")


def hidden_states() -> tuple[np.ndarray, np.ndarray]:
    """Two texts of 3 tokens, 2 dimensions; the second text's last token is padding."""
    hidden = np.array([[[1.0, 0.0], [3.0, 2.0], [5.0, 4.0]],
                       [[0.0, 1.0], [2.0, 3.0], [100.0, 100.0]]])
    mask = np.array([[1, 1, 1], [1, 1, 0]], dtype=float)[..., None]
    return hidden, mask


def test_cls_pooling_takes_the_first_token() -> None:
    hidden, mask = hidden_states()
    assert export_script().pool(hidden, mask, "cls").tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_mean_pooling_ignores_padding() -> None:
    hidden, mask = hidden_states()
    assert export_script().pool(hidden, mask, "mean").tolist() == [[3.0, 2.0], [1.0, 2.0]]


def test_unknown_pooling_is_refused() -> None:
    hidden, mask = hidden_states()
    with pytest.raises(ValueError, match="pooling"):
        export_script().pool(hidden, mask, "max")


def test_only_the_shipped_recipe_writes_the_shipped_directory(tmp_path: Path) -> None:
    script = export_script()
    shipped, upstream = script.TARGET, script.UPSTREAM_SHA256
    assert script.refusal(shipped, upstream, "mean", 0) is None
    assert "cost only" in script.refusal(shipped, upstream, "mean", 12)
    assert "mean pooling" in script.refusal(shipped, upstream, "cls", 0)
    assert "SCRATCH_DIR" in script.refusal(shipped, "0" * 64, "mean", 0)
    assert script.refusal(tmp_path, "0" * 64, "cls", 0) is None
    assert script.refusal(tmp_path, upstream, "mean", 12) is None
