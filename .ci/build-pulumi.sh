#!/usr/bin/env bash
# Build the Pulumi CLI and its Python language host from their published Go modules.
#
# Why: the Pulumi CLI binaries cannot be downloaded on our machines, but the Go module proxy is
# reachable (see lib/go-modules.sh). We put the modules back into the monorepo layout the
# relative replaces of their go.mod files expect, and `go build` there.
#
# The Python language host is a separate, untagged Go module since pulumi 3.80; the module proxy
# serves no pseudo-versions of it (checked again for 3.276.0: `go list -m -versions` of
# github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3 is refused), so it is built
# from the last tagged module that still contains it (sdk/v3@v3.79.0). It speaks the same
# LanguageRuntime protocol the newer CLI drives; the one difference we rely on is that it ignores
# the `virtualenv` runtime option and runs `python3` from PATH, so callers put the project's
# virtualenv first on PATH (the Makefile and tests do).
#
# Usage: build-pulumi.sh VERSION DEST_BIN_DIR     (VERSION like 3.276.0)
# Idempotent: when DEST_BIN_DIR/pulumi already reports VERSION, nothing is rebuilt.
set -euo pipefail

version=${1:?usage: build-pulumi.sh VERSION DEST_BIN_DIR}
dest=${2:?usage: build-pulumi.sh VERSION DEST_BIN_DIR}
tag="v${version#v}"
langhost_tag=v3.79.0

if [ -x "$dest/pulumi" ] && [ "$("$dest/pulumi" version 2>/dev/null)" = "$tag" ] \
   && [ -x "$dest/pulumi-language-python" ] && [ -x "$dest/pulumi-resource-pulumi-python" ] \
   && [ -f "$dest/pulumi-language-python-exec" ]; then
  echo "pulumi $tag already built in $dest"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "error: no 'pulumi' on PATH and no 'go' to build it." >&2
  echo "  Install the Pulumi CLI (https://www.pulumi.com/docs/install/) or Go >= 1.25 (https://go.dev/dl/)," >&2
  echo "  then run 'make setup' again." >&2
  exit 1
fi

# shellcheck source=lib/go-modules.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/go-modules.sh"
make_workdir

echo "==> downloading pulumi $tag modules (sdk, pkg) and the language host (sdk $langhost_tag)"
copy_module "github.com/pulumi/pulumi/sdk/v3@$tag" "$work/sdk"
copy_module "github.com/pulumi/pulumi/pkg/v3@$tag" "$work/pkg"
copy_module "github.com/pulumi/pulumi/sdk/v3@$langhost_tag" "$work/langhost-sdk"

mkdir -p "$dest"
ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$tag"
echo "==> building pulumi (this takes several minutes the first time)"
(cd "$work/pkg" && go build -trimpath -buildvcs=false -tags osusergo,grpcnotrace \
   -ldflags "$ldflags" -o "$dest/pulumi" ./cmd/pulumi)
echo "==> building pulumi-language-python"
(cd "$work/langhost-sdk" && go build -trimpath -buildvcs=false \
   -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$langhost_tag" \
   -o "$dest/pulumi-language-python" ./python/cmd/pulumi-language-python)
# Module zips carry no file modes: restore the exec bits the engine checks for.
install -m 0755 "$work/sdk/python/dist/pulumi-resource-pulumi-python" "$dest/"
install -m 0755 "$work/sdk/python/cmd/pulumi-language-python-exec" "$dest/"

echo "==> $("$dest/pulumi" version) built into $dest"
