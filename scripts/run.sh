#!/usr/bin/env bash
# Installs what meshcast needs, builds it, and runs the main job on the embedded default:
# an origin with the built-in test source (live/demo) and a few local peers fed by the swarm,
# printing the URLs to watch. Ctrl-C stops everything this script started.
#   PEERS=3 (how many local peers)   extra arguments go to `meshcast origin`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh release meshcast
bin=./build/release/meshcast
peers=${PEERS:-3}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$bin" origin --source test --name demo --http 0.0.0.0:8080 --swarm 0.0.0.0:7070 "$@" &
pids+=($!)
# Peers start once the origin's swarm for live/demo exists (the test source is encoding).
for _ in $(seq 1 100); do
  curl -sf http://127.0.0.1:8080/api/v1/swarm/live/demo >/dev/null 2>&1 && break
  sleep 0.2
done
for i in $(seq 1 "$peers"); do
  "$bin" --log-level warn peer --tracker http://127.0.0.1:8080 --stream live/demo \
    --http "127.0.0.1:$((8080 + i))" --swarm 127.0.0.1:0 &
  pids+=($!)
done
sleep 1
cat <<MSG

  meshcast is running: an origin with the built-in test source and $peers local peers.

  from the origin:   ffplay http://127.0.0.1:8080/live/demo.ts     (continuous MPEG-TS)
                     ffplay http://127.0.0.1:8080/live/demo.m3u8   (HLS)
  from peer 1:       ffplay http://127.0.0.1:8081/live/demo.ts     (the stream as the swarm carried it)
  swarm:             http://127.0.0.1:8080/api/v1/swarm/live/demo
  peer stats:        http://127.0.0.1:8081/api/v1/stats

  Ctrl-C stops everything.
MSG
wait "${pids[0]}"
