#!/usr/bin/env bash
# `make failover`: kills (SIGKILL) the Redis master that holds book-channel in a `make up
# TOPOLOGY=sentinel` or `TOPOLOGY=cluster` stack: the Sentinels' current master, or the master of
# the channel's slot. COMPOSE names the compose command (make passes it).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
  echo "usage: make failover   (after make up TOPOLOGY=sentinel or cluster)"
  exit 0
fi

COMPOSE="${COMPOSE:-docker compose}"
CHANNEL=book-channel
topology=$(sed -n 's/^TOPOLOGY=//p' .env 2>/dev/null || true)

# The first node of the list that answers (the one asked may be the dead master).
ask() {
  local port=$1; shift
  local service
  for service in "${NODES[@]}"; do
    if out=$($COMPOSE exec -T "$service" redis-cli -p "$port" "$@" 2>/dev/null) && [ -n "$out" ]; then
      printf '%s\n' "$out"
      return 0
    fi
  done
  echo "failover: no node answered $*" >&2
  return 1
}

case "$topology" in
  sentinel)
    NODES=(redis-sentinel-1 redis-sentinel-2 redis-sentinel-3)
    # Answers are read whole before they are parsed: a reader that stops early (head, awk's exit)
    # would SIGPIPE the writer, and pipefail would end the script.
    answer=$(ask 26379 SENTINEL get-master-addr-by-name mymaster)
    master=${answer%%$'\n'*}
    ;;
  cluster)
    NODES=(redis-cluster-1 redis-cluster-2 redis-cluster-3 redis-cluster-4 redis-cluster-5 redis-cluster-6)
    slot=$(ask 6379 CLUSTER KEYSLOT "$CHANNEL")
    # CLUSTER NODES: id ip:port@bus[,hostname] flags master ping pong epoch state slot-ranges...
    nodes=$(ask 6379 CLUSTER NODES)
    master=$(awk -v slot="$slot" '
      $3 ~ /master/ && $3 !~ /fail/ {
        for (i = 9; i <= NF; i++) {
          n = split($i, range, "-"); lo = range[1]; hi = (n == 2) ? range[2] : range[1]
          if (slot + 0 >= lo + 0 && slot + 0 <= hi + 0) { split($2, addr, ","); print addr[2]; exit }
        }
      }' <<<"$nodes")
    ;;
  *)
    echo "failover: the stack runs on standalone Redis; start it with make up TOPOLOGY=sentinel (or cluster)" >&2
    exit 2
    ;;
esac

if [ -z "$master" ]; then echo "failover: could not find the master of $CHANNEL" >&2; exit 1; fi
echo "failover: killing $master, the master holding $CHANNEL; watch Delivery: failovers, publish errors, missed"
$COMPOSE kill -s SIGKILL "$master"
