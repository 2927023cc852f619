#!/usr/bin/env bash
# Build the Kubernetes resource provider plugin (pulumi-resource-kubernetes) from its Go modules.
#
# The examples/multi-cloud program and tests/e2e/test_multi_cloud.py run it beside our dynamic
# providers; provider plugins are normally downloaded from GitHub release pages, which our machines
# cannot reach. The provider module has no tags of its own: the proxy serves it by commit
# (pseudo-version). Its go.mod replaces sdk/v4 with ../sdk, so the sdk/v4 module of the matching
# release goes there. main.go embeds schema-embed.json and terraform-mapping-embed.json, which
# generate.go (a `go:build ignore` program) writes from the committed schema with the version set.
#
# Usage: build-pulumi-kubernetes.sh VERSION DEST_BIN_DIR     (VERSION like 4.24.0)
# Idempotent: the binary is moved into DEST_BIN_DIR only once complete, and never rebuilt there.
set -euo pipefail

version=${1:?usage: build-pulumi-kubernetes.sh VERSION DEST_BIN_DIR}
dest=${2:?usage: build-pulumi-kubernetes.sh VERSION DEST_BIN_DIR}
version=${version#v}
# Commit f47bc2d6f199 (2026-01-15) of pulumi/pulumi-kubernetes, the newest the proxy serves; its
# provider speaks the protocol the 4.24.0 Python SDK expects.
provider_module=github.com/pulumi/pulumi-kubernetes/provider/v4@v4.0.0-20260115033456-f47bc2d6f199
sdk_module=github.com/pulumi/pulumi-kubernetes/sdk/v4@v$version
binary=pulumi-resource-kubernetes

built() {
  [ -x "$dest/$binary" ] && echo "$binary $version already built in $dest"
}
built && exit 0

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/go-modules.sh
. "$here/lib/go-modules.sh"
require_go "$binary"
lock_dir "$dest"
built && exit 0   # another setup built it while we waited for the lock
make_workdir

echo "==> downloading $provider_module and $sdk_module"
copy_module "$provider_module" "$work/provider"
copy_module "$sdk_module" "$work/sdk"

echo "==> building $binary $version (several minutes the first time)"
(cd "$work/provider/cmd/$binary" && VERSION=$version go run generate.go)
mkdir -p "$dest"
(cd "$work/provider" && go build -trimpath -buildvcs=false \
   -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$version" \
   -o "$work/$binary" "./cmd/$binary")
# Copy next to the destination, then rename: a build cut short never leaves a binary that passes
# the check above.
install -m 0755 "$work/$binary" "$dest/.$binary.$$"
mv -f "$dest/.$binary.$$" "$dest/$binary"
echo "==> $binary $version built into $dest"
