"""Load a script of the repository (benchmarks/, scripts/) as a module, for its tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_script(path: Path) -> ModuleType:
    """Import the file ``path`` as the module named after its stem (kept in ``sys.modules``).

    Its folder goes on ``sys.path`` first, so that the script's own imports of its
    neighbours (``import _norway_pbf``) resolve.
    """
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module
