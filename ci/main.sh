#!/bin/bash
# The main job: set up, run the default suite on every backend this host supports,
# and write the report. Extra arguments go to `isobench run` (e.g. --quick).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The main job needs the programs, not the tests: build only those.
TARGETS="isobench isobench_bench isobench_conformance isobench-agent isobench_py" bash "$root/ci/setup.sh"
cd "$root"
exec "$root/build/harness/cli/isobench" run "$@"
