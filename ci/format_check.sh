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
# One clang-format over every file (a process per file took 45 s of a CI run here); a
# file it would change is named in its "code should be clang-formatted" warnings.
mapfile -d '' files < <(git ls-files -z '*.cc' '*.h')
total=${#files[@]}
out="$(printf '%s\0' "${files[@]}" | xargs -0 clang-format --dry-run -Werror 2>&1)"
rc=$?
mapfile -t bad < <(sed -nE 's/^(.+):[0-9]+:[0-9]+: (error|warning): code should be clang-formatted.*/\1/p' \
  <<<"$out" | sort -u)
if ((rc != 0 && ${#bad[@]} == 0)); then
  echo "format_check: clang-format failed (exit $rc):"
  head -20 <<<"$out" | sed 's/^/    /'
  exit 1
fi
for f in "${bad[@]}"; do
  echo "not formatted: $f"
  diff -u "$f" <(clang-format "$f") | sed -n '3,12p' | sed 's/^/    /'
done
echo "format_check: $((total - ${#bad[@]})) of $total C++ files as clang-format $(clang-format --version | grep -o '[0-9][0-9.]*' | head -1) writes them"
((${#bad[@]} == 0))
