"""Results tables that read well everywhere a chapter is read.

A table printed as Markdown text shows up as raw pipes on the website (its notebook outputs are rendered as
CommonMark, which has no tables), so chapters build their tables with :func:`table` instead. The object it
returns renders as an HTML table in Jupyter, Colab and on the website, and as aligned plain text in a terminal
or a grading log::

    from dlbook_utils.tables import table
    table(["model", "test acc."], [["baseline", 0.801], ["dropout", 0.823]], highlight="dropout")
"""

from __future__ import annotations

import html
import numbers
from collections.abc import Sequence

__all__ = ["Table", "table"]


def _format(value, digits: int) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{value:,}"
    if isinstance(value, numbers.Real):
        return f"{value:.{digits}f}"
    return str(value)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


class Table:
    """A small table of results: a header, rows of values, an optional caption and highlighted rows.

    ``str(table)`` (and ``repr``) is aligned plain text; ``_repr_html_`` is the HTML that notebooks show.
    """

    def __init__(self, header: Sequence, rows: Sequence[Sequence], *, caption: str | None = None,
                 digits: int = 3, highlight: str | Sequence[str] | None = None):
        self.header = [str(h) for h in header]
        self.rows = [list(r) for r in rows]
        for i, row in enumerate(self.rows):
            if len(row) != len(self.header):
                raise ValueError(f"row {i} has {len(row)} values but the header has {len(self.header)} columns: {row!r}")
        self.caption = caption
        self.digits = digits
        if isinstance(highlight, str):
            highlight = [highlight]
        self.highlight = set(highlight or [])
        unknown = self.highlight - {str(r[0]) for r in self.rows}
        if unknown:
            raise ValueError(f"highlight names rows that are not in the table: {sorted(unknown)}")

    def cells(self) -> list[list[str]]:
        """The rows as formatted strings."""
        return [[_format(v, self.digits) for v in row] for row in self.rows]

    def _numeric_columns(self) -> list[bool]:
        return [bool(self.rows) and all(_is_number(r[j]) for r in self.rows) for j in range(len(self.header))]

    def __str__(self) -> str:
        cells = self.cells()
        widths = [max([len(h)] + [len(r[j]) for r in cells]) for j, h in enumerate(self.header)]
        numeric = self._numeric_columns()

        def line(values):
            return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

        out = [self.caption] if self.caption else []
        out += [line(self.header), "  ".join("-" * w for w in widths)]
        for row, values in zip(self.rows, cells):
            text = line(values)
            out.append(text + ("   ◀" if str(row[0]) in self.highlight else ""))
        return "\n".join(out)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        numeric = self._numeric_columns()
        right = ' style="text-align:right"'
        head = "".join(f"<th{right if num else ''}>{html.escape(h)}</th>" for h, num in zip(self.header, numeric))
        body = []
        for row, values in zip(self.rows, self.cells()):
            strong = str(row[0]) in self.highlight
            tds = []
            for j, (v, num) in enumerate(zip(values, numeric)):
                text = html.escape(v)
                if strong:
                    text = f"<strong>{text}</strong>"
                tag = "th" if j == 0 else "td"
                tds.append(f"<{tag}{right if num else ''}>{text}</{tag}>")
            body.append("<tr>" + "".join(tds) + "</tr>")
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return (f'<table class="dlbook-table">{caption}<thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(body)}</tbody></table>")


def table(header: Sequence, rows: Sequence[Sequence], *, caption: str | None = None, digits: int = 3,
          highlight: str | Sequence[str] | None = None) -> Table:
    """A :class:`Table`; the last expression of a cell, or ``display(table(...))``, shows it.

    Integers get thousands separators, other numbers ``digits`` decimals, strings are shown as they are (so
    pre-formatted values such as ``"+1.5 points"`` pass through). ``highlight`` names rows, by their first
    value, to show in bold.
    """
    return Table(header, rows, caption=caption, digits=digits, highlight=highlight)
