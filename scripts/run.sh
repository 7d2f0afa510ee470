#!/usr/bin/env bash
# Installs what meshcast needs, builds it, and runs the main job on the embedded default:
# an origin with the built-in test source (live/demo), printing the URLs to watch.
# Extra arguments are passed to `meshcast origin`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh release meshcast
exec ./build/release/meshcast origin --source test --name demo "$@"
