#!/bin/bash
# Every C++ file in the repository is as clang-format (.clang-format, Debian 12's
# clang-format 14) writes it. Prints each file that is not, with the first lines of the
# change, and exits 1; exits 77 (CTest: skipped) when clang-format is not installed.
#
#   bash ci/format_check.sh            (CTest: format_check)
#   git ls-files '*.cc' '*.h' | xargs clang-format -i     (to fix)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1
if ! command -v clang-format >/dev/null; then
  echo "SKIPPED: clang-format is not installed (apt-get install clang-format)"
  exit 77
fi
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "SKIPPED: $root is not a git checkout (the files to check are git's)"
  exit 77
fi
bad=0 total=0
while IFS= read -r -d '' f; do
  total=$((total + 1))
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    bad=$((bad + 1))
    echo "not formatted: $f"
    diff -u "$f" <(clang-format "$f") | sed -n '3,12p' | sed 's/^/    /'
  fi
done < <(git ls-files -z '*.cc' '*.h')
echo "format_check: $((total - bad)) of $total C++ files as clang-format $(clang-format --version | grep -o '[0-9][0-9.]*' | head -1) writes them"
((bad == 0))
