"""The handlers' contract (``lambda/contract.py``), loaded from the packaged handler directory.

The constructs and the rehearsal read the same file the deployed functions import, so the property
names, the job kinds, the event names and the limits are written once. It is loaded under this module's
own name space (never as a top-level ``contract`` module, which a user's code may well have).
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING

from constructs_lib._assets import handler_code_dir


def load_handler_module(name: str, filename: str) -> ModuleType:
    """``filename`` of the packaged handler directory, loaded once as the module ``name`` (a name in this
    package's space, never the handler's own top-level name, which a user's code may well have)."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(name, handler_code_dir() / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: dataclasses look their module up
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    # The type checker reads the very file (pyproject.toml's mypy ``files`` holds lambda/, whose modules
    # are top-level there, as in Lambda): the constructs' use of the contract is checked with it.
    import contract as contract
else:
    contract = load_handler_module("constructs_lib._handler_contract", "contract.py")
