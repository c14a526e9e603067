#!/usr/bin/env bash
# Installs everything the build, the local model and the tests need: Debian packages
# (redis-server, redis-sentinel, util-linux for namespaces, mmdebstrap for the container images,
# nftables for the pods' source addresses and partitions, prometheus for the metrics test),
# a virtual environment, and the local model's images (built once, then reused: see
# localmodel/images.py; $LOCALMODEL_IMAGES, default /var/cache/localmodel-images).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v redis-sentinel >/dev/null || need_apt+=(redis-sentinel)
command -v redis-benchmark >/dev/null || need_apt+=(redis-tools)
command -v unshare >/dev/null || need_apt+=(util-linux)
command -v mmdebstrap >/dev/null || need_apt+=(mmdebstrap)
# The hook tool client actions use inside workload containers is static C (localmodel/hooktools).
command -v cc >/dev/null || need_apt+=(gcc)
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ -e /usr/lib/aarch64-linux-gnu/libc.a ] || need_apt+=(libc6-dev)
command -v nft >/dev/null || need_apt+=(nftables)
# The TLS tests check the charm's certificates with the real openssl CLI (the charm never runs it).
command -v openssl >/dev/null || need_apt+=(openssl)
# The metrics test runs a real Prometheus against the pods' exporters (tests/functional/test_metrics.py).
command -v prometheus >/dev/null || need_apt+=(prometheus)
# The pods' TLS test runs the exporter (1.45, as the exporter image) against the pods' sockets.
command -v prometheus-redis-exporter >/dev/null || need_apt+=(prometheus-redis-exporter)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: need root to install ${need_apt[*]} (apt-get)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.requirements-dev.sha
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q -r requirements-dev.txt
  echo "$want" > "$stamp"
fi

# Every image the model knows; a recipe already built is only checked (its stamp).
PYTHONPATH=. .venv/bin/python -m localmodel image build
