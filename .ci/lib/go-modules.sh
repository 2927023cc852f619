# shellcheck shell=bash
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

# Holds an exclusive lock on DIR for the rest of the script (see start_build).
lock_dir() {
  mkdir -p "$1"
  exec 9>"$1/.build.lock"
  flock 9
}

# Starts building NAME into DEST, or ends the script (status 0) when CHECK... (a command that says
# so) finds it built already. Worktrees of one machine share DEST, and two `make setup`s starting at
# once should build once: the check runs again once DEST's lock is held (the second setup waits,
# then finds the binary). Then needs Go, and makes the scratch directory $work.
start_build() {  # DEST NAME CHECK...
  local dest=$1 name=$2
  shift 2
  "$@" && exit 0
  lock_dir "$dest"
  "$@" && exit 0
  require_go "$name"
  make_workdir
}

# A check for start_build: DEST/BINARY is there; says LABEL is built.
binary_built() {  # DEST BINARY LABEL
  [ -x "$1/$2" ] && echo "$3 already built in $1"
}

# Installs the built FILE into DEST, executable (module zips carry no file modes), by a rename next
# to its place: a build cut short never leaves a file there that a check takes for a complete one.
install_binary() {  # FILE DEST
  local name
  name=$(basename "$1")
  mkdir -p "$2"
  install -m 0755 "$1" "$2/.$name.$$"
  mv -f "$2/.$name.$$" "$2/$name"
}
