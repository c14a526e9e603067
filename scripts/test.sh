#!/usr/bin/env bash
# Runs every test suite, each in its own pytest session (suites have their own conftest and
# helper modules), and ends with one summary line. Exit status: non-zero if any suite failed or
# collected no test.
#
# Suites run in lanes: the functional suite (the longest, on its own local models) beside the
# others in sequence, so the whole run takes about as long as the functional suite. Every suite
# uses its own addresses (127.x subnets) and directories, so lanes never share a process.
# TEST_SUITES picks suites (then one lane); TEST_LANES=1 runs everything in one sequence.
set -uo pipefail
cd "$(dirname "$0")/.."

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

run_suite() {  # run_suite SUITE: pytest output to $results/SUITE.log, exit status to SUITE.rc
  local suite=$1 started=$SECONDS
  .venv/bin/python -m pytest -q -p no:cacheprovider --durations=5 "tests/$suite" \
    >"$results/$suite.log" 2>&1
  echo $? >"$results/$suite.rc"
  echo "=== tests/$suite (exit $(cat "$results/$suite.rc"), $((SECONDS - started)) s)"
  cat "$results/$suite.log"
}

run_lane() {
  for suite in "$@"; do run_suite "$suite"; done
}

if [ -n "${TEST_SUITES:-}" ]; then
  lanes=("$TEST_SUITES")
elif [ "${TEST_LANES:-2}" = 1 ]; then
  lanes=("unit layers watcher handlers build pods localmodel functional")
else
  # build first: the functional suite builds at its start too, and a build that replaced
  # build/redis-k8s later could race a deployment from it.
  lanes=("functional" "build unit layers watcher handlers pods localmodel")
fi

pids=()
for lane in "${lanes[@]}"; do
  run_lane $lane &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

passed=0 failed=0 skipped=0 broken=()
for lane in "${lanes[@]}"; do
  for suite in $lane; do
    summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed|error|skipped)|no tests ran' "$results/$suite.log" | tail -n 1)
    count() { grep -oE "[0-9]+ $1" <<<"$summary" | grep -oE '^[0-9]+' || echo 0; }
    passed=$((passed + $(count passed)))
    failed=$((failed + $(count failed) + $(count error)))
    skipped=$((skipped + $(count skipped)))
    rc=$(cat "$results/$suite.rc" 2>/dev/null || echo missing)
    [ "$rc" = 0 ] || broken+=("$suite (exit $rc)")
  done
done

[ ${#broken[@]} -eq 0 ] || echo "suites that failed: ${broken[*]}"
echo "tests: $passed passed, $failed failed, $skipped skipped (${SECONDS} s)"
[ ${#broken[@]} -eq 0 ]
