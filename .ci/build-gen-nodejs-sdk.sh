#!/usr/bin/env bash
# Build gen-nodejs-sdk (.ci/gen-nodejs-sdk: Pulumi's Node.js SDK generator from pkg/v3, the version
# its go.mod pins) into DEST_BIN_DIR. See main.go for why `pulumi package gen-sdk` cannot do this.
#
# Usage: build-gen-nodejs-sdk.sh DEST_BIN_DIR
# Idempotent: when DEST_BIN_DIR/gen-nodejs-sdk exists, nothing is rebuilt (the cache directory's
# name carries the pkg/v3 version, so a new pin builds anew).
set -euo pipefail

dest=${1:?usage: build-gen-nodejs-sdk.sh DEST_BIN_DIR}
source_dir=$(cd "$(dirname "$0")/gen-nodejs-sdk" && pwd)

if [ -x "$dest/gen-nodejs-sdk" ]; then
  echo "gen-nodejs-sdk already built in $dest"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "error: no 'go' to build gen-nodejs-sdk" >&2
  exit 1
fi
export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}
mkdir -p "$dest"
echo "==> building gen-nodejs-sdk (several minutes the first time)"
(cd "$source_dir" && go build -trimpath -buildvcs=false -ldflags "-s -w" -o "$dest/gen-nodejs-sdk.tmp" .)
mv "$dest/gen-nodejs-sdk.tmp" "$dest/gen-nodejs-sdk"
echo "==> gen-nodejs-sdk built into $dest"
