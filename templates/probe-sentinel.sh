#!/bin/sh
# Probe of the `sentinel` container: answers PING on the sentinel port.
set -u
. "{{ scripts_dir }}/lib.sh"
[ "$(cli "$LOCAL_ADDR" "$SENTINEL_PORT" PING)" = PONG ]
