#!/usr/bin/env bash
# Build Pulumi's Node.js language host from its published Go module, into the per-user tool cache.
#
# Why this version: the host lives in the `sdk/v3` module up to v3.68.0; later it moved to a module
# of its own that the Go module proxy does not serve. sdk/v3@v3.68.0's go.mod carries a `replace`
# directive, so `go install` refuses it: we copy the module out of the cache and `go build` there
# (the replace points at another published module, so the copy alone is enough).
#
# Usage: build-pulumi-nodejs.sh VERSION DEST_BIN_DIR     (VERSION like 3.68.0)
# Idempotent: when DEST_BIN_DIR/pulumi-language-nodejs exists, nothing is rebuilt.
set -euo pipefail

version=${1:?usage: build-pulumi-nodejs.sh VERSION DEST_BIN_DIR}
dest=${2:?usage: build-pulumi-nodejs.sh VERSION DEST_BIN_DIR}
tag="v${version#v}"

if [ -x "$dest/pulumi-language-nodejs" ]; then
  echo "pulumi-language-nodejs $tag already built in $dest"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "error: no 'go' to build pulumi-language-nodejs" >&2
  exit 1
fi

export GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-auto}
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
sdk=$(go mod download -json "github.com/pulumi/pulumi/sdk/v3@$tag" | python3 -c '
import json, sys
info = json.load(sys.stdin)
if info.get("Error"):
    sys.exit(info["Error"])
print(info["Dir"])')
cp -r "$sdk" "$work/sdk"
chmod -R u+w "$work"
mkdir -p "$dest"
echo "==> building pulumi-language-nodejs $tag"
(cd "$work/sdk" && go build -trimpath -buildvcs=false \
   -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$tag" \
   -o "$dest/pulumi-language-nodejs" ./nodejs/cmd/pulumi-language-nodejs)
echo "==> pulumi-language-nodejs $tag built into $dest"
