#!/usr/bin/env bash
# The main job: build the charm, start the local model, deploy 3 units of redis-k8s and the legacy
# consumer, relate them, wait until all are active, then write and read a key through the endpoint
# the consumer received. Leaves the model running (`make status`, `make down`).
set -euo pipefail
cd "$(dirname "$0")/.."
lm() { .venv/bin/python -m localmodel "$@"; }

# TEST_REUSE_BUILD: the test of this script runs beside others that deploy from build/; it uses
# their build rather than swapping build/ under them.
if [ -z "${TEST_REUSE_BUILD:-}" ] || [ ! -d build/redis-k8s ] || [ ! -d build/redis-consumer ]; then
  bash scripts/build.sh
  bash scripts/build.sh tests/charms/redis-consumer
fi

if lm status --format json >/dev/null 2>&1; then
  echo "demo: replacing the previous local model in $LOCALMODEL_HOME"
  lm down
fi
lm up ${DEMO_SUBNET:+--subnet "$DEMO_SUBNET"}
lm deploy build/redis-k8s redis-k8s -n 3 --resource redis-image=redis:7.0 --resource exporter-image=oliver006/redis_exporter:v1.45.0
lm deploy build/redis-consumer redis-consumer
lm relate redis-k8s redis-consumer
lm wait --timeout 300
lm status --format tabular

echo
echo "What redis-consumer/0 received on the redis relation:"
lm run --operator redis-consumer/0 'for id in $(relation-ids redis); do for u in $(relation-list -r $id | head -1); do relation-get -r $id - $u; done; done' \
  | grep -v '^password:'
echo
echo "A key written and read back through that endpoint (redis-cli run in the consumer's hook context):"
lm run --operator redis-consumer/0 'id=$(relation-ids redis | head -1); u=$(relation-list -r $id | head -1);
  h=$(relation-get -r $id host $u); p=$(relation-get -r $id port $u);
  export REDISCLI_AUTH=$(relation-get -r $id password $u);
  echo "SET demo:greeting \"hello from redis-k8s\" -> $(redis-cli -h $h -p $p set demo:greeting "hello from redis-k8s")";
  echo "GET demo:greeting -> $(redis-cli -h $h -p $p get demo:greeting)   (master $h:$p)"'
echo
echo "The model keeps running: make status (JSON), make down (removes it)."
