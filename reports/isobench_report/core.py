"""The isobench_py module: the C++ result loader, statistics and regression gate."""
import glob
import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


class ModuleError(Exception):
    """The isobench_py module (the C++ statistics) cannot be imported."""


def load_stats_module(module_dir):
    """The isobench_py module. There is no fallback: the report shows the gate's own
    verdicts and the C++ statistics, or nothing (ModuleError names where it looked)."""
    if module_dir:
        dirs = [module_dir]
    elif os.environ.get("ISOBENCH_PYMODULE_DIR"):
        dirs = [os.environ["ISOBENCH_PYMODULE_DIR"]]
    else:
        dirs = sorted(glob.glob(os.path.join(REPO, "build*", "reports")))
    saved = list(sys.path)
    sys.path[:0] = dirs
    try:
        return importlib.import_module("isobench_py")
    except ImportError as e:
        where = ", ".join(dirs) if dirs else "no build directory found"
        raise ModuleError(
            "cannot import the isobench_py module (searched: %s): %s. It is required: build it "
            "with `cmake --build build --target isobench_py` (needs pybind11 and python3-dev for "
            "/usr/bin/python3), or point --module-dir / ISOBENCH_PYMODULE_DIR at it"
            % (where, e)) from e
    finally:
        sys.path[:] = saved
