#!/usr/bin/env bash
# One version number: project(ioca VERSION x.y.z) in CMakeLists.txt is the source; ioca
# --version, the Python package's __version__, CITATION.cff and the newest CHANGELOG entry
# must say the same.
# usage: version.sh SOURCE_DIR IOCA
set -uo pipefail
src=$1 ioca=$2
failures=0
check() {  # check WHAT VALUE
  if [ "$2" = "$version" ]; then echo "ok   $1: $2"; else echo "FAIL $1: '$2', CMakeLists.txt says $version"; failures=$((failures + 1)); fi
}
version=$(sed -n 's/^project(ioca VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || { echo "FAIL no project(ioca VERSION ...) in CMakeLists.txt"; exit 1; }
check "ioca --version" "$("$ioca" --version | sed -n 's/^ioca \([0-9][0-9.]*\).*/\1/p' | head -n 1)"
check "ioca_analysis.__version__" "$(cd "$src/analysis" && /usr/bin/python3 -c 'import ioca_analysis; print(ioca_analysis.__version__)')"
check "CITATION.cff" "$(sed -n 's/^version: *"\{0,1\}\([0-9][0-9.]*\)"\{0,1\} *$/\1/p' "$src/CITATION.cff")"
check "CHANGELOG.md" "$(grep -m 1 -o '^## \[[0-9][0-9.]*\]' "$src/CHANGELOG.md" | tr -d '#[] ')"
if [ -f "$src/analysis/pyproject.toml" ]; then
  # the Python package's metadata reads __version__ (dynamic) or states it
  if grep -qE '^dynamic *=.*version' "$src/analysis/pyproject.toml"; then
    echo "ok   analysis/pyproject.toml: version from ioca_analysis.__version__"
  else
    check "analysis/pyproject.toml" "$(sed -n 's/^version *= *"\([0-9][0-9.]*\)".*/\1/p' "$src/analysis/pyproject.toml")"
  fi
fi
[ "$failures" -eq 0 ] && echo "version: all checks passed ($version)" || echo "version: $failures checks failed"
[ "$failures" -eq 0 ]
