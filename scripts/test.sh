#!/usr/bin/env bash
# Installs what meshcast needs, builds it, and passes the tests:
#   1. release build: unit tests + integration tests (real ffmpeg/ffprobe on loopback);
#   2. debug build with AddressSanitizer + UBSan: the unit tests;
#   3. clang libFuzzer build: each fuzz target for a short bounded time (FUZZ_SECONDS, default 20).
# Set MESHCAST_SKIP_ASAN=1 or MESHCAST_SKIP_FUZZ=1 to skip stage 2 or 3 locally.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs=$(nproc)

echo "== release build and tests"
./scripts/build.sh release
ctest --preset release -j "$jobs"

if [ "${MESHCAST_SKIP_ASAN:-0}" != 1 ]; then
  echo "== sanitizer build (ASan+UBSan) and unit tests"
  ./scripts/build.sh asan
  ctest --preset asan -j "$jobs" -LE integration
fi

if [ "${MESHCAST_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzz targets, ${FUZZ_SECONDS:-20} s each"
  ./scripts/build.sh fuzz
  failed=0
  for f in build/fuzz/fuzz/*_fuzz; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    corpus=$(mktemp -d)
    [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$corpus/"
    if "$f" -max_total_time="${FUZZ_SECONDS:-20}" -rss_limit_mb=2048 -print_final_stats=0 \
         -artifact_prefix="$corpus/" "$corpus" >"$corpus.log" 2>&1; then
      echo "fuzz $name: ok ($(grep -o 'DONE.*' "$corpus.log" | head -1 || true))"
    else
      echo "fuzz $name: FAILED"; tail -40 "$corpus.log"; failed=1
    fi
    rm -rf "$corpus" "$corpus.log"
  done
  [ "$failed" = 0 ] || exit 1
fi
echo "all test stages passed"
