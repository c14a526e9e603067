#!/usr/bin/env bash
# Runs every test suite, each in its own pytest session (suites have their own conftest and
# helper modules), and ends with one summary line. Exit status: non-zero if any suite failed or
# collected no test.
#
# Suites run in lanes: the functional suite (the longest, on its own local models) beside the
# others in sequence. In the default two lanes the functional suite is split in two sessions so
# the lanes take about as long: `functional-side` (the modules in FUNCTIONAL_SIDE) runs after the
# other suites, `functional-main` (every other module, so a new one is never left out) beside them. Every suite
# uses its own addresses (127.x subnets) and directories, so lanes never share a process.
# TEST_SUITES picks suites (then one lane); TEST_LANES=1 runs everything in one sequence.
set -uo pipefail
cd "$(dirname "$0")/.."

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

FUNCTIONAL_SIDE=(test_peers_and_password.py test_invalid_option.py test_demo.py test_actions_admin.py test_metrics.py
                 test_partition.py)

suite_args() {  # suite_args SUITE: what pytest runs for SUITE
  case $1 in
    functional-main)
      echo tests/functional
      for module in "${FUNCTIONAL_SIDE[@]}"; do echo "--ignore=tests/functional/$module"; done ;;
    functional-side)
      for module in "${FUNCTIONAL_SIDE[@]}"; do echo "tests/functional/$module"; done ;;
    *) echo "tests/$1" ;;
  esac
}

run_suite() {  # run_suite SUITE: pytest output to $results/SUITE.log, exit status to SUITE.rc
  local suite=$1 started=$SECONDS reuse=""
  # It starts after this run's builds: rebuilding would swap build/ under the other lane.
  [ "$suite" = functional-side ] && reuse=1
  TEST_REUSE_BUILD=$reuse .venv/bin/python -m pytest -q -p no:cacheprovider --durations=5 $(suite_args "$suite") \
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
  lanes=("functional-main" "build unit layers watcher handlers pods localmodel functional-side")
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
