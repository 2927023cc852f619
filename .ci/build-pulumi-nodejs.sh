#!/usr/bin/env bash
# Build Pulumi's Node.js language host from its published Go module, into the per-user tool cache.
#
# Why this version: the host lives in the `sdk/v3` module up to v3.68.0; later it moved to a module
# of its own that the Go module proxy does not serve. sdk/v3@v3.68.0's go.mod carries a `replace`
# directive, so `go install` refuses it: we copy the module out of the cache and `go build` there
# (lib/go-modules.sh; the replace points at another published module, so the copy alone is enough).
#
# Usage: build-pulumi-nodejs.sh VERSION DEST_BIN_DIR     (VERSION like 3.68.0)
# Idempotent: when DEST_BIN_DIR/pulumi-language-nodejs exists, nothing is rebuilt.
set -euo pipefail

version=${1:?usage: build-pulumi-nodejs.sh VERSION DEST_BIN_DIR}
dest=${2:?usage: build-pulumi-nodejs.sh VERSION DEST_BIN_DIR}
tag="v${version#v}"
binary=pulumi-language-nodejs

# shellcheck source=lib/go-modules.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/go-modules.sh"
start_build "$dest" "$binary" binary_built "$dest" "$binary" "$binary $tag"

copy_module "github.com/pulumi/pulumi/sdk/v3@$tag" "$work/sdk"
echo "==> building $binary $tag"
(cd "$work/sdk" && go build -trimpath -buildvcs=false \
   -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$tag" \
   -o "$work/$binary" "./nodejs/cmd/$binary")
install_binary "$work/$binary" "$dest"
echo "==> $binary $tag built into $dest"
