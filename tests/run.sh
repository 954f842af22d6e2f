#!/usr/bin/env bash
# Every test of ioca: C++ unit and end-to-end tests through CTest, then the Python tests.
# Expects ./setup.sh to have built build/.
set -euo pipefail
cd "$(dirname "$0")/.."
# Tests run one at a time: several run two OpenMP threads each, and the machines this runs
# on have few cores (oversubscribed OpenMP barriers are slow, not wrong).
ctest --test-dir build --output-on-failure --timeout 900
cd analysis
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests
