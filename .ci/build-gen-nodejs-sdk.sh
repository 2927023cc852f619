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
binary=gen-nodejs-sdk

# shellcheck source=lib/go-modules.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/go-modules.sh"
start_build "$dest" "$binary" binary_built "$dest" "$binary" "$binary"

echo "==> building $binary (several minutes the first time)"
# -mod=readonly over the library's -mod=mod: our go.sum is committed and complete, and go must not
# rewrite it in the source tree.
(cd "$source_dir" && go build -mod=readonly -trimpath -buildvcs=false -ldflags "-s -w" \
   -o "$work/$binary" .)
install_binary "$work/$binary" "$dest"
echo "==> $binary built into $dest"
