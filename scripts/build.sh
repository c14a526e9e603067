#!/usr/bin/env bash
# Builds a charm offline from our own layers (layers/, interfaces/):
#   scripts/build.sh [CHARM_SOURCE]   (default: the repository root, i.e. redis-k8s)
#   build/<name>/      the built charm (deploy with `juju deploy ./build/redis-k8s`)
#   build/<name>.charm the same, zipped
# Python dependencies are vendored into build/redis-k8s/lib/ as pure Python by
# layer:caas-base's build tactic, cached in deps/ by wheelhouse content (only that step
# needs PyPI, and only when the wheelhouse changes).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
[ -x .venv/bin/charm-build ] || bash scripts/setup.sh

src=$(cd "${1:-$root}" && pwd)
name=$(sed -n 's/^name: *//p' "$src/metadata.yaml" | head -n 1)
out=$root/build
stage=$out/.stage/$name
next=$out/.next-$name

# One build at a time (tests and `make` may overlap); readers of build/redis-k8s only
# ever see a complete charm, swapped in at the end.
mkdir -p "$out"
exec 9>"$out/.build.lock"
flock 9

# charm-build refuses a build directory inside the source tree, and walking .venv/.git
# would cost more than the build: build from a copy without them. Everything else is
# copied, so the root layer.yaml `exclude:` list is what keeps development files out.
rm -rf "$stage" "$next"
mkdir -p "$stage" "$next"
tar -C "$src" -cf - \
  --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./deps \
  --exclude=./.localmodel --exclude=__pycache__ --exclude=.pytest_cache \
  --exclude='*.pyc' --exclude='.unit-state*.db' --exclude=./.juju-persistent-config \
  . | tar -C "$stage" -xf -

log=$out/.charm-build-$name.log
set +e
env CHARM_LAYERS_DIR="$root/layers" \
    CHARM_INTERFACES_DIR="$root/interfaces" \
    CHARM_CACHE_DIR="$out/.cache-$name" \
    CAAS_BASE_VENDOR_CACHE="${CAAS_BASE_VENDOR_CACHE:-$root/deps/vendor}" \
    CHARM_HIDE_METRICS=1 \
    "$root/.venv/bin/charm-build" --hide-metrics --no-report \
      --layer-index "file://$root/layers/.no-index/" \
      --build-dir "$next" "$stage" >"$log" 2>&1
rc=$?
set -e
# Proof warnings make charm-build exit 100; only errors (or a failed build) count.
if [ $rc -ne 0 ] && [ $rc -ne 100 ]; then
  cat "$log" >&2
  echo "build: charm-build failed (exit $rc)" >&2
  exit 1
fi
rm -rf "$stage" "$out/.cache-$name"

proof=$("$root/.venv/bin/charm-proof" "$next/$name" 2>&1 || true)
if grep -q '^E:' <<<"$proof"; then
  echo "$proof" >&2
  echo "build: charm-proof reported errors" >&2
  exit 1
fi

"$root/.venv/bin/python" - "$next/$name" "$next/$name.charm" <<'EOF'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(dst + '.tmp', 'w', zipfile.ZIP_DEFLATED) as zf:
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for filename in sorted(filenames):
            path = os.path.join(dirpath, filename)
            zf.write(path, os.path.relpath(path, src))  # keeps the hooks' exec bits
os.replace(dst + '.tmp', dst)
EOF
rm -rf "$out/$name" "$out/$name.charm"
mv "$next/$name" "$out/$name"
mv "$next/$name.charm" "$out/$name.charm"
rm -rf "$next"
echo "build: $out/$name and $out/$name.charm"
