"""A small table type that prints as aligned text and as Markdown."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# A figure, possibly with a unit: "0.229", "1,565", "3.07x", "5.6 min".
_FIGURE = re.compile(r"[\d.,]+ ?[a-zA-Z%]*")


@dataclass(frozen=True)
class Table:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
        return cls(title, tuple(header), tuple(tuple(row) for row in rows))

    def text(self) -> str:
        """The title, then the columns aligned and separated by `|`."""
        lines = [self.header, *self.rows]
        widths = [max(len(line[column]) for line in lines) for column in range(len(self.header))]
        body = [
            " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in lines
        ]
        body.insert(1, "-+-".join("-" * width for width in widths))
        return "\n".join([self.title, *(line.rstrip() for line in body)])

    def markdown(self) -> str:
        """A `###` heading and a GitHub table; columns of figures are right-aligned."""
        align = ["---:" if self._figures(column) else "---" for column in range(len(self.header))]
        lines = [self.header, tuple(align), *self.rows]
        return "\n".join([f"### {self.title}", "", *("| " + " | ".join(line) + " |" for line in lines)])

    def _figures(self, column: int) -> bool:
        cells = [row[column] for row in self.rows if row[column]]
        return bool(cells) and all(_FIGURE.fullmatch(cell) for cell in cells)


def seconds(value: float) -> str:
    return f"{value:.3f}"


def kilobytes(value: int) -> str:
    return f"{value / 1024:.1f}"


def number(value: float) -> str:
    """An integer without decimals, anything else with one or two."""
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"
