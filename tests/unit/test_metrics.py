import math

import pytest

from dlbook_utils import metrics


def test_record_and_collect(tmp_path):
    metrics.record("03", "test_accuracy", 0.97, mode="full", target=0.96, directory=tmp_path, verbose=False)
    metrics.record("03", "test_accuracy", 0.5, mode="quick", directory=tmp_path, verbose=False)
    metrics.record("03", "test_accuracy", 0.98, mode="full", target=0.96, directory=tmp_path, verbose=False)
    entries = metrics.collect(tmp_path)
    assert [(e["mode"], e["value"]) for e in entries] == [("full", 0.98), ("quick", 0.5)]
    assert entries[0]["met"] is True
    table = metrics.table(entries)
    assert "test_accuracy" in table and "≥ 0.96" in table


def test_lower_is_better_targets(tmp_path):
    e = metrics.record("17", "val_loss", 1.6, mode="full", target=1.5, higher_is_better=False,
                       directory=tmp_path, verbose=False)
    assert e["met"] is False


@pytest.mark.parametrize("bad", [math.nan, math.inf, "high", None])
def test_bad_values_are_refused(tmp_path, bad):
    with pytest.raises(ValueError):
        metrics.record("01", "x", bad, mode="full", directory=tmp_path, verbose=False)
