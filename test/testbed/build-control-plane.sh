#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kube-scheduler from Debian's
# kubernetes source package (1.20.2, Go deps vendored) and caches the binaries.
# Recipe and the two required patches: see README "How the test bed works".
set -euo pipefail

CACHE="${TESSERA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera}"
VERSION_KEY="kubernetes-1.20.5+really1.20.2"
BIN="$CACHE/$VERSION_KEY/bin"

if [[ -x "$BIN/kube-apiserver" && -x "$BIN/kube-controller-manager" && -x "$BIN/kube-scheduler" ]]; then
  echo "$BIN"
  exit 0
fi

log() { echo "[control-plane] $*" >&2; }

# Parallel callers (several test beds starting at once) wait for one build instead of racing.
mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it"
  flock 9
fi
if [[ -x "$BIN/kube-apiserver" && -x "$BIN/kube-controller-manager" && -x "$BIN/kube-scheduler" ]]; then
  echo "$BIN"
  exit 0
fi
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"

ensure_apt() {
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list 2>/dev/null; then
    log "adding deb-src for bookworm"
    $SUDO tee /etc/apt/sources.list.d/tessera-src.sources >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    $SUDO apt-get update -qq
  fi
  local need=()
  for p in golang-go etcd-server rsync jq golang-github-modern-go-reflect2-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  if ((${#need[@]})); then
    log "installing ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

ensure_apt
WORK="$CACHE/build"
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
log "downloading source"
apt-get source --download-only kubernetes >/dev/null 2>&1
TARBALL=$(ls kubernetes_*.orig.tar.gz | head -n1)
mkdir src && tar -xzf "$TARBALL" -C src --strip-components=1
cd src

log "patching vendored reflect2 and kube-openapi for Go 1.19"
# 1.0.2 dropped files (go_above_17.go, go_below_19.go, ...) that would redeclare symbols, so replace, not overlay.
R2=vendor/github.com/modern-go/reflect2
rm -f "$R2"/*.go "$R2"/*.s
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go /usr/share/gocode/src/github.com/modern-go/reflect2/*.s "$R2/"
TYPE_GO=vendor/k8s.io/kube-openapi/pkg/validation/validate/type.go
sed -i 's/if data == nil || reflect.DeepEqual(reflect.Zero(reflect.TypeOf(data)), reflect.ValueOf(data)) {/if data == nil {/' "$TYPE_GO"
grep -q 'if data == nil {' "$TYPE_GO" || { log "patch of $TYPE_GO failed"; exit 1; }

log "building (about 8 minutes on 2 cores)"
mkdir -p .go/src/k8s.io
ln -sfn ../../.. .go/src/k8s.io/kubernetes
export GOPATH="$PWD/.go" CGO_ENABLED=0
make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler" >"$WORK/make.log" 2>&1 || {
  tail -n 40 "$WORK/make.log" >&2; exit 1; }

mkdir -p "$BIN.tmp"
cp _output/bin/kube-apiserver _output/bin/kube-controller-manager _output/bin/kube-scheduler "$BIN.tmp/"
rm -rf "$BIN" && mv "$BIN.tmp" "$BIN"
cd "$CACHE" && rm -rf "$WORK"
log "cached in $BIN"
echo "$BIN"
