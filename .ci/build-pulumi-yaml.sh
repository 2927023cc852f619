#!/usr/bin/env bash
# Build Pulumi's YAML language host from its published Go module, into the same per-user cache as
# the CLI (see build-pulumi.sh for why we build instead of downloading).
#
# Why a separate script: YAML is a separate module (github.com/pulumi/pulumi-yaml) with its own
# version, and it carries no `replace` directives, so plain `go install` builds it from the module
# proxy without reassembling a monorepo. v1.25.0 requires pkg/v3 v3.206.0, which the proxy serves.
#
# Usage: build-pulumi-yaml.sh VERSION DEST_BIN_DIR     (VERSION like 1.25.0)
# Idempotent: when DEST_BIN_DIR/pulumi-language-yaml exists, nothing is rebuilt.
set -euo pipefail

version=${1:?usage: build-pulumi-yaml.sh VERSION DEST_BIN_DIR}
dest=${2:?usage: build-pulumi-yaml.sh VERSION DEST_BIN_DIR}
tag="v${version#v}"
binary=pulumi-language-yaml

# shellcheck source=lib/go-modules.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/go-modules.sh"
start_build "$dest" "$binary" binary_built "$dest" "$binary" "$binary $tag"

echo "==> building $binary $tag (several minutes the first time)"
GOBIN="$work" go install -trimpath -buildvcs=false -ldflags "-s -w" \
  "github.com/pulumi/pulumi-yaml/cmd/$binary@$tag"
install_binary "$work/$binary" "$dest"
echo "==> $binary $tag built into $dest"
