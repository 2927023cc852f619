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

if [ -x "$dest/pulumi-language-yaml" ]; then
  echo "pulumi-language-yaml $tag already built in $dest"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "error: no 'go' to build pulumi-language-yaml; install Go >= 1.24 (https://go.dev/dl/)" >&2
  exit 1
fi

export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}
mkdir -p "$dest"
echo "==> building pulumi-language-yaml $tag (several minutes the first time)"
# GOBIN must be absolute; build into a temporary directory so a failed build leaves no partial binary.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" go install -trimpath -buildvcs=false -ldflags "-s -w" \
  "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml@$tag"
install -m 0755 "$tmp/pulumi-language-yaml" "$dest/"
echo "==> pulumi-language-yaml $tag built into $dest"
