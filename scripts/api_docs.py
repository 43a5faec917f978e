"""The API reference: HTML pages generated from the docstrings with pdoc (``make docs``).

    python scripts/api_docs.py [OUTPUT_DIR]      # default docs/api; open OUTPUT_DIR/index.html

The package ``constructs_lib`` loads its classes on first use (its ``__getattr__``); pdoc reads a module's
``__dict__``, so the public names are resolved first. Docstrings are reStructuredText (``:param x:``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "docs" / "api"
# What a user imports or runs: the constructs, the offline rehearsal, the deploy policy command and
# the compliance helpers.
PUBLIC_MODULES = (
    "constructs_lib",
    "constructs_lib.rehearsal",
    "constructs_lib.deploy_policy",
    "constructs_lib.compliance",
)


def render(output: Path) -> list[Path]:
    """Write the reference to ``output``; the pages written, one per public module and an index."""
    import pdoc
    import pdoc.render

    import constructs_lib

    for name in constructs_lib.__all__:
        constructs_lib.__dict__.setdefault(name, getattr(constructs_lib, name))
    pdoc.render.configure(docformat="restructuredtext", show_source=False, search=True)
    pdoc.pdoc(*PUBLIC_MODULES, output_directory=output)
    return sorted(output.glob("**/*.html"))


def main(argv: list[str]) -> int:
    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    pages = render(output)
    print(f"API reference: {len(pages)} pages in {output} (open {output / 'index.html'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
