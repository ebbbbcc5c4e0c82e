#!/usr/bin/env bash
# `make pause-replica N=n`: freezes replica n (docker compose pause) and then, as heavy traffic
# would, fills what Redis holds for its subscriber until Redis cuts it at the output-buffer limit.
# The probe's traffic alone would take minutes: Redis counts only what the kernel will not take,
# and the socket buffers between Redis and a frozen reader take megabytes first (1 MB in the test).
# COMPOSE names the compose command (make passes it).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  echo "usage: make pause-replica N=1..4   (bash scripts/compose-pause.sh book-N)"
  exit 0
fi
replica=${1:?usage: scripts/compose-pause.sh book-N}
if ! [[ $replica =~ ^book-[1-9]$ ]]; then echo "pause: not a replica: $replica (book-1..book-4)" >&2; exit 2; fi

COMPOSE="${COMPOSE:-docker compose}"
CHANNEL=book-channel
case "$(sed -n 's/^TOPOLOGY=//p' .env 2>/dev/null || true)" in
  sentinel) NODES=(redis-master redis-replica); PUBLISH=PUBLISH ;;
  cluster) NODES=(redis-cluster-1 redis-cluster-2 redis-cluster-3 redis-cluster-4 redis-cluster-5 redis-cluster-6); PUBLISH=SPUBLISH ;;
  *) NODES=(redis); PUBLISH=PUBLISH ;;
esac

$COMPOSE pause "$replica"
node=""
for service in "${NODES[@]}"; do
  if list=$($COMPOSE exec -T "$service" redis-cli CLIENT LIST TYPE pubsub 2>/dev/null) &&
    [[ $list == *"name=$replica:subscriber "* ]]; then
    node=$service
    break
  fi
done
if [ -z "$node" ]; then
  echo "pause: $replica is frozen; no Redis node lists its subscriber (cut already, or not subscribed)"
  exit 0
fi
echo "pause: $replica frozen; publishing 70 KB fillers on $node (the other replicas reject them as oversized, and count them) until Redis cuts its subscriber..."
# One exec, the loop inside the Redis container, where redis-cli is the default user on the node.
# shellcheck disable=SC2016 # expanded by the container's sh
if ! $COMPOSE exec -T "$node" sh -c '
  filler=$(head -c 71680 /dev/zero | tr "\0" x)
  rounds=0
  while redis-cli CLIENT LIST TYPE pubsub | grep "name=$0:subscriber " >/dev/null; do
    for n in 1 2 3 4 5 6 7 8; do redis-cli "$1" "$2" "$filler" >/dev/null; done
    rounds=$((rounds + 1))
    [ "$rounds" -lt 200 ] || exit 1
  done' "$replica" "$PUBLISH" "$CHANNEL"; then
  echo "pause: Redis still holds $replica's subscriber after 200 rounds of fillers; is its output-buffer limit set (docker-compose.yml)?" >&2
  exit 1
fi
echo "pause: Redis cut $replica's subscriber: what is published from now on is lost to it. make resume-replica N=${replica#book-} shows it missed"
