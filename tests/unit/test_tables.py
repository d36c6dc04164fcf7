"""dlbook_utils.tables: results tables as HTML and as plain text."""

from __future__ import annotations

import numpy as np
import pytest

from dlbook_utils.tables import table


def test_html_has_header_rows_caption_and_escapes_text():
    t = table(["model", "weights", "test acc."], [["base<line>", 207178, 0.80234], ["dropout", 207178, np.float32(0.8231)]],
              caption="Results & gaps", highlight="dropout")
    html = t._repr_html_()
    assert html.startswith("<table") and html.endswith("</table>")
    assert "<caption>Results &amp; gaps</caption>" in html
    assert "base&lt;line&gt;" in html and "<line>" not in html
    assert html.count("<tr>") == 3
    assert "207,178" in html and "0.802" in html and "0.823" in html
    assert "<strong>dropout</strong>" in html and "<strong>base" not in html
    assert '<td style="text-align:right">' in html  # numeric columns are right-aligned


def test_plain_text_is_aligned_and_marks_highlighted_rows():
    t = table(["model", "acc."], [["baseline", 0.8], ["L2", 0.8125]], highlight=["L2"], digits=2)
    lines = str(t).splitlines()
    assert lines[0].split() == ["model", "acc."]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2].split() == ["baseline", "0.80"]
    assert lines[3].split() == ["L2", "0.81", "◀"]
    assert len({line.index("0.") for line in lines[2:]}) == 1  # the numbers line up
    assert repr(t) == str(t)


def test_strings_pass_through_and_integers_get_separators():
    t = table(["a", "b", "c"], [["x", "+1.5 points", 12345]])
    assert t.cells() == [["x", "+1.5 points", "12,345"]]


def test_mismatched_rows_and_unknown_highlights_are_refused():
    with pytest.raises(ValueError, match="row 1 has 1 values but the header has 2"):
        table(["a", "b"], [["x", 1], ["y"]])
    with pytest.raises(ValueError, match="not in the table"):
        table(["a", "b"], [["x", 1]], highlight="z")
