#!/usr/bin/env bash
# Runs every test suite, each in its own pytest session (suites have their own conftest and
# helper modules), and ends with one summary line. Exit status: non-zero if any suite failed or
# collected no test.
set -uo pipefail
cd "$(dirname "$0")/.."

suites=(${TEST_SUITES:-unit layers watcher build pods localmodel functional})
passed=0 failed=0 skipped=0 broken=()
for suite in "${suites[@]}"; do
  echo "=== tests/$suite"
  log=$(mktemp)
  .venv/bin/python -m pytest -q -p no:cacheprovider "tests/$suite" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error|skipped)|no tests ran' "$log" | tail -n 1)
  count() { grep -oE "[0-9]+ $1" <<<"$summary" | grep -oE '^[0-9]+' || echo 0; }
  passed=$((passed + $(count passed)))
  failed=$((failed + $(count failed) + $(count error)))
  skipped=$((skipped + $(count skipped)))
  [ "$rc" -eq 0 ] || broken+=("$suite (exit $rc)")
  rm -f "$log"
done

[ ${#broken[@]} -eq 0 ] || echo "suites that failed: ${broken[*]}"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ ${#broken[@]} -eq 0 ]
