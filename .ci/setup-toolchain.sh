#!/usr/bin/env bash
# Put a complete Pulumi toolchain into the virtualenv's bin directory:
#   pulumi, pulumi-language-python, pulumi-language-python-exec, pulumi-resource-pulumi-python.
# A `pulumi` already on PATH is used as it is; otherwise the CLI is built from its Go modules
# once, into a per-user cache keyed by version, and linked from there.
#
# Usage: setup-toolchain.sh VENV_BIN PULUMI_VERSION
set -euo pipefail

venv_bin=$(cd "${1:?usage: setup-toolchain.sh VENV_BIN PULUMI_VERSION}" && pwd)
version=${2:?usage: setup-toolchain.sh VENV_BIN PULUMI_VERSION}
here=$(cd "$(dirname "$0")" && pwd)
tools=(pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python)

# A pulumi on PATH that is not our own link in the virtualenv.
ambient_pulumi() {
  local IFS=: dir
  for dir in $PATH; do
    [ "$(cd "$dir" 2>/dev/null && pwd)" = "$venv_bin" ] && continue
    if [ -x "$dir/pulumi" ]; then
      echo "$dir/pulumi"
      return 0
    fi
  done
  return 1
}

has_all_tools() {
  local tool
  for tool in "${tools[@]}"; do [ -e "$1/$tool" ] || return 1; done
}

if found=$(ambient_pulumi) && has_all_tools "$(dirname "$(readlink -f "$found")")"; then
  source_dir=$(dirname "$(readlink -f "$found")")
  echo "==> using the Pulumi CLI on PATH: $found ($("$found" version))"
else
  source_dir="${XDG_CACHE_HOME:-$HOME/.cache}/vast-pulumi/pulumi-v${version#v}/bin"
  "$here/build-pulumi.sh" "$version" "$source_dir" || {
    echo "  (or install the Pulumi CLI, https://www.pulumi.com/docs/install/, and put it on PATH)" >&2
    exit 1
  }
fi

for tool in "${tools[@]}"; do
  ln -sfn "$source_dir/$tool" "$venv_bin/$tool"
done
echo "==> Pulumi toolchain linked into $venv_bin ($("$venv_bin/pulumi" version))"
