"""Write the trimmed Personalize service model that the Lambda handlers ship.

The Lambda runtime's bundled botocore can predate `batchInferenceJobMode`, `themeGenerationConfig` and
`rankingInfluence`, and botocore rejects parameters its model does not know. The handlers therefore
load this trimmed copy of the installed botocore's model (only the operations they may call and the
shapes those reach, without documentation) ahead of the runtime's own. The operations are the ones
the job kinds of lambda/contract.py declare.

    python scripts/trim_personalize_model.py          # regenerate lambda/models/...
    python scripts/trim_personalize_model.py --check  # exit 1 when the bundled copy is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import botocore
from botocore.loaders import Loader

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "lambda"))

import contract  # noqa: E402  (the handlers' contract: which Personalize calls each job kind makes)
import scheduled  # noqa: E402  (what a scheduled run's skip check calls besides)

SERVICE = "personalize"
API_VERSION = "2018-05-22"
# Every call the job kinds declare, and the skip checks of scheduled runs: nothing else is ever made.
OPERATIONS = tuple(
    sorted(
        {action for kind in contract.KINDS.values() for action in kind.iam_actions()}
        | set(scheduled.SKIP_CHECK_ACTIONS)
    )
)
BUNDLED_MODEL = REPO_ROOT / "lambda" / "models" / SERVICE / API_VERSION / "service-2.json"


def load_installed_model() -> dict[str, Any]:
    """The installed botocore's own model (never a copy found elsewhere on the search path)."""
    loader = Loader(
        extra_search_paths=[str(Path(botocore.__file__).parent / "data")],
        include_default_search_paths=False,
    )
    model: dict[str, Any] = loader.load_service_model(SERVICE, "service-2", API_VERSION)
    return model


def _shape_references(node: Any) -> set[str]:
    """Names of the shapes a model fragment refers to (`{"shape": name}` anywhere inside)."""
    if isinstance(node, dict):
        found = {node["shape"]} if isinstance(node.get("shape"), str) else set()
        for value in node.values():
            found |= _shape_references(value)
        return found
    if isinstance(node, list):
        return set().union(*(_shape_references(item) for item in node))
    return set()


def _without_documentation(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: _without_documentation(value)
            for key, value in node.items()
            if key not in ("documentation", "documentationUrl")
        }
    if isinstance(node, list):
        return [_without_documentation(item) for item in node]
    return node


def trim_model(model: dict[str, Any]) -> dict[str, Any]:
    """The operations in OPERATIONS, every shape they reach, the metadata; no documentation."""
    operations = {name: model["operations"][name] for name in OPERATIONS}
    shapes: dict[str, Any] = {}
    pending = _shape_references(operations)
    while pending:
        name = pending.pop()
        shapes[name] = model["shapes"][name]
        pending |= _shape_references(shapes[name]) - shapes.keys()
    trimmed = {
        "version": model.get("version", "2.0"),
        "metadata": model["metadata"],
        "operations": operations,
        "shapes": dict(sorted(shapes.items())),
    }
    return dict(_without_documentation(trimmed))


def render(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the bundled model is stale")
    args = parser.parse_args(argv)
    wanted = render(trim_model(load_installed_model()))
    if args.check:
        current = BUNDLED_MODEL.read_text() if BUNDLED_MODEL.exists() else ""
        if current != wanted:
            print(f"{BUNDLED_MODEL} is stale: run python scripts/trim_personalize_model.py", file=sys.stderr)
            return 1
        return 0
    BUNDLED_MODEL.parent.mkdir(parents=True, exist_ok=True)
    BUNDLED_MODEL.write_text(wanted)
    print(f"wrote {BUNDLED_MODEL} ({len(wanted)} bytes, botocore {botocore.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
