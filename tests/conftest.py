"""
Shared test set-up: the repository root, and the repo's Salt extension
directories on sys.path so tests import them as Salt's loader would name
them (``import nspawn``), and tools/ for the lab driver (``from lab import Lab``).
"""

import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent

for extension_dir in ("_clouds", "_modules", "_states", "tools"):
    sys.path.insert(0, str(REPO / extension_dir))
