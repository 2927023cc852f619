# Shared by the .ci/build-*.sh scripts that build Pulumi binaries from published Go modules
# (source it; needs `go` and `python3`). Why modules: release binaries cannot be downloaded on our
# machines, the Go module proxy is reachable, and `go install mod@version` refuses modules whose
# go.mod carries `replace` directives (all of Pulumi's do), so each script downloads the modules,
# lays them out as the relative replaces expect, and runs `go build` there.

export GOFLAGS=-mod=mod          # let go add the go.sum lines a reassembled tree needs
export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}   # fetch a newer Go from the module proxy if go.mod asks for it

require_go() {
  command -v go >/dev/null 2>&1 && return 0
  echo "error: building $1 needs Go >= 1.25 (https://go.dev/dl/); install it and run 'make setup' again." >&2
  exit 1
}

# Prints the extracted directory of a module version, downloading it into GOMODCACHE first.
module_dir() {
  go mod download -json "$1" | python3 -c '
import json, sys
info = json.load(sys.stdin)
if info.get("Error"):
    sys.exit(info["Error"])
print(info["Dir"])'
}

# Copies a module version to DEST as a writable tree (the module cache is read-only).
copy_module() {
  local dir
  dir=$(module_dir "$1")
  mkdir -p "$(dirname "$2")"
  cp -r "$dir" "$2"
  chmod -R u+w "$2"
}

# A scratch directory removed on exit (module copies are read-only until chmod'ed).
make_workdir() {
  work=$(mktemp -d)
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
}

# Holds an exclusive lock on DIR for the rest of the script: worktrees of one machine share the
# cache, and two `make setup`s starting at once should build once (the second waits, then finds
# the binary). Callers check for the binary again after taking the lock.
lock_dir() {
  mkdir -p "$1"
  exec 9>"$1/.build.lock"
  flock 9
}
