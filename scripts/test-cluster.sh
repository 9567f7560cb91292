#!/usr/bin/env bash
# scripts/test-cluster.sh -- a real, throw-away Kubernetes control plane
# (etcd + kube-apiserver, nothing else) on 127.0.0.1 for sluice's tests.
#
# Usage:
#   scripts/test-cluster.sh start    # build/locate binaries, start, install CRDs + RBAC
#   scripts/test-cluster.sh stop     # stop exactly the processes `start` launched
#   scripts/test-cluster.sh status   # exit 0 when running, 3 when stopped, 1 when half-up
#   scripts/test-cluster.sh env      # prints: export SLUICE_TEST_KUBECONFIG=<state>/kubeconfig
#
# Typical use from CI / a test run:
#   bash scripts/test-cluster.sh start
#   eval "$(bash scripts/test-cluster.sh env)"
#   cargo test ...
#   bash scripts/test-cluster.sh stop
#
# What `start` leaves in the state dir ($SLUICE_CLUSTER_DIR, default
# /tmp/sluice-test-cluster):
#   kubeconfig        cluster "sluice-test", users "admin" + "limited",
#                     contexts "admin" (current) and "limited"
#   cluster.env       shell-sourceable: SLUICE_TEST_SERVER, ports, token/CA paths
#   admin.token       bearer token of user "admin"   (group system:masters)
#   limited.token     bearer token of user "limited" (read-only RBAC, see below)
#   pki/ca.crt        CA that signed the serving cert (also embedded in kubeconfig)
#   logs/*.log        etcd / kube-apiserver logs
#   pids/*.pid        pid files used by `stop`
#
# The user "limited" is bound (ClusterRoleBinding sluice-test-limited-readonly)
# to ClusterRole sluice-test-readonly: get/list/watch on sparkapplications, configmaps
# (+ /status) and namespaces, nothing else -- so writes by it must get 403.
#
# Binaries:
#   * If KUBEBUILDER_ASSETS is set (envtest convention), kube-apiserver and
#     etcd are taken from that folder.
#   * Otherwise kube-apiserver v1.20.2 is built ONCE from Debian bookworm's
#     `kubernetes` source package (1.20.5+really1.20.2) with Debian's Go 1.19
#     (~2.5 min measured on 2 cores) and cached outside the repository at
#     ${SLUICE_CACHE_DIR:-$HOME/.cache/sluice}/kube-apiserver-1.20.2/kube-apiserver
#     and etcd is Debian's etcd-server (3.4.x, /usr/bin/etcd).
#   The script installs every Debian package it needs itself (needs root, or
#   sudo), so it works on a fresh Debian bookworm machine with only apt.
#
# Networking: every socket is bound to 127.0.0.1 only; the control plane never
# talks to any other address (no kubelets, no endpoints reconciler, no
# aggregated API services).
#
# Environment knobs (all optional):
#   SLUICE_CLUSTER_DIR     state dir                        (/tmp/sluice-test-cluster)
#   SLUICE_CACHE_DIR       binary cache                     ($HOME/.cache/sluice)
#   SLUICE_CRDS_DIR        folder with the upstream CRDs    (<repo>/../shared/crds)
#   SLUICE_APISERVER_PORT  kube-apiserver secure port       (a free port)
#   SLUICE_ETCD_PORT       etcd client port                 (a free port)
#   SLUICE_ETCD_PEER_PORT  etcd peer port                   (a free port)
#   SLUICE_START_TIMEOUT   seconds to wait for readiness    (60)
#   SLUICE_BUILD_NICE      nice level for the Go build      (19)
#   KUBEBUILDER_ASSETS     folder with kube-apiserver + etcd to use instead
set -euo pipefail

# --------------------------------------------------------------------------
# Constants and paths
# --------------------------------------------------------------------------
readonly K8S_VERSION="1.20.2"                   # upstream version we build
readonly DEB_SRC_PACKAGE="kubernetes"           # Debian source package
readonly GO_PACKAGE="golang-1.19-go"            # Debian's Go used for the build
readonly GO_ROOT="/usr/lib/go-1.19"
# The upstream CRDs installed: name, file in CRDS_DIR, served group/version.
readonly CRDS=(
  "sparkapplications.sparkoperator.k8s.io sparkoperator.k8s.io_sparkapplications.yaml sparkoperator.k8s.io/v1beta2"
  "flinkdeployments.flink.apache.org flinkdeployments.flink.apache.org-v1.yml flink.apache.org/v1beta1"
)
# python3 with PyYAML: we deliberately use Debian's interpreter, not whatever
# `python3` is first on PATH (here a pyenv CPython without PyYAML). Debian's
# python3-yaml is installed by apt for exactly /usr/bin/python3, so this works
# on any bookworm machine regardless of pyenv/venvs and needs no PyPI access.
readonly PY=/usr/bin/python3

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
STATE="${SLUICE_CLUSTER_DIR:-/tmp/sluice-test-cluster}"
CACHE="${SLUICE_CACHE_DIR:-${HOME:-/root}/.cache/sluice}"
CRDS_DIR="${SLUICE_CRDS_DIR:-${REPO_ROOT}/../shared/crds}"
START_TIMEOUT="${SLUICE_START_TIMEOUT:-60}"
BUILD_NICE="${SLUICE_BUILD_NICE:-19}"
CACHED_APISERVER="${CACHE}/kube-apiserver-${K8S_VERSION}/kube-apiserver"
MARKER="${STATE}/.sluice-test-cluster"          # proves the dir is ours to wipe

log()  { printf '[test-cluster] %s\n' "$*" >&2; }
die()  { printf '[test-cluster] ERROR: %s\n' "$*" >&2; exit 1; }

# Run a command as root (directly, or through sudo when available).
as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then "$@";
  elif command -v sudo >/dev/null 2>&1; then sudo "$@";
  else die "need root (or sudo) to run: $*"; fi
}

# --------------------------------------------------------------------------
# apt helpers
# --------------------------------------------------------------------------
APT_UPDATED=0
apt_update_once() {
  if [[ "${APT_UPDATED}" -eq 0 ]]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    APT_UPDATED=1
  fi
}

pkg_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

# ensure_pkgs PKG... : install whichever of the given Debian packages are missing.
ensure_pkgs() {
  local missing=() p
  for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  apt_update_once
  log "apt-get install ${missing[*]}"
  # Debian's etcd-server ships an init script that would start a system etcd
  # on 127.0.0.1:2379 as a side effect of installation. We never want a
  # process we did not start, so if the machine has no policy-rc.d (docker
  # images usually do) we add a temporary one that forbids starting services.
  local tmp_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
    tmp_policy=1
  fi
  local rc=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2 || rc=$?
  [[ "${tmp_policy}" -eq 1 ]] && as_root rm -f /usr/sbin/policy-rc.d
  [[ "${rc}" -eq 0 ]] || die "apt-get install ${missing[*]} failed"
}

# Tools every `start` needs, whatever the binary source.
ensure_runtime_tools() {
  ensure_pkgs curl openssl ca-certificates python3-yaml
  "${PY}" -c 'import yaml, json' 2>/dev/null || die "${PY} cannot import yaml (python3-yaml)"
}

# --------------------------------------------------------------------------
# Building kube-apiserver from Debian's source package
# --------------------------------------------------------------------------

# Make sure apt knows bookworm `deb-src` entries, i.e. `apt-get source` works.
# The sources entry we add mirrors the URI/keyring of the existing bookworm
# `deb` entry (deb822 *.sources files first, then one-line sources.list).
ensure_deb_src() {
  if apt-cache showsrc "${DEB_SRC_PACKAGE}" 2>/dev/null | grep -q '^Package:'; then
    return 0
  fi
  local uri="" keyring="" f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -e "$f" ]] || continue
    # Print "URI KEYRING" of the first stanza that is Types: deb with Suites: bookworm.
    read -r uri keyring < <(awk '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && suites ~ /(^| )bookworm( |$)/ && uris != "" && !done) {
          split(uris, u, " "); print u[1], (signed == "" ? "-" : signed); done = 1
        }
        types = suites = uris = signed = ""
      }
      /^[[:space:]]*$/ { flush(); next }
      /^Types:/     { sub(/^Types:[[:space:]]*/, "");     types = $0 }
      /^Suites:/    { sub(/^Suites:[[:space:]]*/, "");    suites = $0 }
      /^URIs:/      { sub(/^URIs:[[:space:]]*/, "");      uris = $0 }
      /^Signed-By:/ { sub(/^Signed-By:[[:space:]]*/, ""); signed = $0 }
      END { flush() }' "$f") || true
    [[ -n "${uri}" ]] && break
  done
  if [[ -z "${uri}" && -r /etc/apt/sources.list ]]; then
    # one-line format: deb [opts] URI bookworm main ...
    uri="$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { if ($(i+1) == "bookworm") print $i; break } }' \
      /etc/apt/sources.list | head -n1)"
    keyring="-"
  fi
  [[ -n "${uri}" ]] || uri="http://deb.debian.org/debian"
  [[ "${keyring}" == "-" || -z "${keyring}" ]] && keyring="/usr/share/keyrings/debian-archive-keyring.gpg"
  log "adding deb-src entry for bookworm main (${uri})"
  as_root tee /etc/apt/sources.list.d/sluice-bookworm-src.sources >/dev/null <<EOF
# Added by sluice scripts/test-cluster.sh: source packages, needed to build
# kube-apiserver ${K8S_VERSION} from Debian's "${DEB_SRC_PACKAGE}" source package.
Types: deb-src
URIs: ${uri}
Suites: bookworm
Components: main
Signed-By: ${keyring}
EOF
  APT_UPDATED=0
  apt_update_once
  apt-cache showsrc "${DEB_SRC_PACKAGE}" 2>/dev/null | grep -q '^Package:' \
    || die "apt still has no source package '${DEB_SRC_PACKAGE}' after adding deb-src"
}

# Replace a vendored Go package dir with the top-level package sources from a
# Debian golang-*-dev package (no tests, no sub-packages: the vendor tree only
# needs the package itself).
replace_vendored() {
  local src="$1" dst="$2"
  [[ -d "${src}" ]] || die "missing ${src} (Debian -dev package not installed?)"
  rm -rf "${dst}"
  mkdir -p "${dst}"
  local f
  for f in "${src}"/*; do
    case "$f" in
      *_test.go) ;;
      *.go|*.s|*/LICENSE|*/go.mod) cp "$f" "${dst}/" ;;
    esac
  done
}

build_kube_apiserver() {
  ensure_pkgs dpkg-dev xz-utils make rsync "${GO_PACKAGE}" \
    golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev
  ensure_deb_src

  local src_ver
  src_ver="$(apt-cache showsrc "${DEB_SRC_PACKAGE}" | awk '/^Version:/ { print $2; exit }')"
  [[ "${src_ver}" == *"${K8S_VERSION}"* ]] \
    || die "Debian source '${DEB_SRC_PACKAGE}' is ${src_ver}, expected upstream ${K8S_VERSION}"

  local out_dir="${CACHE}/kube-apiserver-${K8S_VERSION}"
  local work="${CACHE}/build-${K8S_VERSION}"
  local build_log="${out_dir}/build.log"
  mkdir -p "${out_dir}"
  rm -rf "${work}"; mkdir -p "${work}"

  log "building kube-apiserver ${K8S_VERSION} from Debian source ${src_ver}"
  log "  (one-off, a few minutes on 2 cores; log: ${build_log})"
  local t0=${SECONDS}
  # (As root, apt warns that the download is "performed unsandboxed" because
  # _apt cannot write the dir: harmless.)
  (cd "${work}" && apt-get source "${DEB_SRC_PACKAGE}") >>"${build_log}" 2>&1 \
    || die "apt-get source ${DEB_SRC_PACKAGE} failed (see ${build_log})"
  local srcdir
  srcdir="$(find "${work}" -maxdepth 1 -type d -name "${DEB_SRC_PACKAGE}-*" | head -n1)"
  [[ -n "${srcdir}" && -f "${srcdir}/Makefile" ]] || die "unpacked source not found in ${work}"

  # Known snag: the vendored github.com/modern-go/reflect2 v1.0.1 relies on
  # Go runtime internals that changed in Go 1.18 and corrupts memory at run
  # time (random crashes/garbage in JSON (de)serialisation). Swap in Debian's
  # reflect2 1.0.2 and the matching json-iterator 1.1.12.
  # kubernetes 1.20 builds in GOPATH mode (hack/lib/init.sh exports
  # GO111MODULE=off), so vendor/modules.txt is not consulted and needs no edit.
  replace_vendored /usr/share/gocode/src/github.com/modern-go/reflect2 \
    "${srcdir}/vendor/github.com/modern-go/reflect2"
  replace_vendored /usr/share/gocode/src/github.com/json-iterator/go \
    "${srcdir}/vendor/github.com/json-iterator/go"

  # Offline, static, reproducible-ish build with Debian's Go 1.19. GOFLAGS must
  # not carry -mod=... (invalid in GOPATH mode); GOPROXY=off guarantees the go
  # tool never tries the network. The version string comes from the archive's
  # export-subst data in hack/lib/version.sh (v1.20.2).
  (
    cd "${srcdir}"
    export PATH="${GO_ROOT}/bin:${PATH}"
    export GOFLAGS="" GOPROXY=off GOSUMDB=off GOTOOLCHAIN=local CGO_ENABLED=0
    export HOME="${work}/home"; mkdir -p "${HOME}"
    unset GOPATH GOROOT GOBIN GO111MODULE
    go version
    nice -n "${BUILD_NICE}" make WHAT=cmd/kube-apiserver
  ) >>"${build_log}" 2>&1 || { tail -n 40 "${build_log}" >&2; die "kube-apiserver build failed (see ${build_log})"; }

  local built="${srcdir}/_output/bin/kube-apiserver"
  [[ -x "${built}" ]] || die "build finished but ${built} is missing"
  # Atomic install into the cache, then drop the (large) build tree.
  cp "${built}" "${CACHED_APISERVER}.tmp"
  mv -f "${CACHED_APISERVER}.tmp" "${CACHED_APISERVER}"
  {
    echo "source=${DEB_SRC_PACKAGE} ${src_ver}"
    echo "go=$("${GO_ROOT}/bin/go" version)"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ) seconds=$((SECONDS - t0))"
    echo "patched=vendor/github.com/modern-go/reflect2 -> $(dpkg-query -W -f='${Version}' golang-github-modern-go-reflect2-dev)"
    echo "patched=vendor/github.com/json-iterator/go -> $(dpkg-query -W -f='${Version}' golang-github-json-iterator-go-dev)"
  } >"${out_dir}/BUILD-INFO"
  rm -rf "${work}"
  log "built ${CACHED_APISERVER} in $((SECONDS - t0))s"
}

# Sets APISERVER_BIN and ETCD_BIN.
resolve_binaries() {
  if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
    APISERVER_BIN="${KUBEBUILDER_ASSETS}/kube-apiserver"
    ETCD_BIN="${KUBEBUILDER_ASSETS}/etcd"
    [[ -x "${APISERVER_BIN}" ]] || die "KUBEBUILDER_ASSETS set but ${APISERVER_BIN} is not executable"
    [[ -x "${ETCD_BIN}" ]] || die "KUBEBUILDER_ASSETS set but ${ETCD_BIN} is not executable"
    log "using binaries from KUBEBUILDER_ASSETS=${KUBEBUILDER_ASSETS}"
    return 0
  fi

  ensure_pkgs etcd-server
  ETCD_BIN=/usr/bin/etcd

  # Serialise concurrent `start`s so two of them never build at once.
  mkdir -p "${CACHE}"
  exec 9>"${CACHE}/.build.lock"
  if ! flock -n 9; then
    log "another process is building kube-apiserver; waiting for it"
    flock 9
  fi
  if [[ ! -x "${CACHED_APISERVER}" ]] || ! "${CACHED_APISERVER}" --version >/dev/null 2>&1; then
    build_kube_apiserver
  fi
  flock -u 9; exec 9>&-
  APISERVER_BIN="${CACHED_APISERVER}"
}

# --------------------------------------------------------------------------
# Process bookkeeping
# --------------------------------------------------------------------------
pidfile() { echo "${STATE}/pids/$1.pid"; }

# is_ours NAME: true when the pid in NAME's pid file is alive AND is still the
# binary we started (guards against pid reuse after a reboot/crash).
is_ours() {
  local pf pid exe want
  pf="$(pidfile "$1")"
  [[ -r "${pf}" ]] || return 1
  { read -r pid; read -r want; } <"${pf}" || return 1
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  [[ -d "/proc/${pid}" ]] || return 1
  exe="$(readlink "/proc/${pid}/exe" 2>/dev/null || true)"
  [[ "${exe% (deleted)}" == "${want}" ]]
}

pid_of() { head -n1 "$(pidfile "$1")"; }

# start_bg NAME BINARY ARGS... : start detached from our stdio, record pid.
start_bg() {
  local name="$1" bin="$2"; shift 2
  local real; real="$(readlink -f "${bin}")"
  # stdio fully redirected so a caller capturing our output (CI, $(...)) is
  # never held open by the daemons. nohup execs, so $! is the daemon itself.
  nohup "${real}" "$@" </dev/null >>"${STATE}/logs/${name}.log" 2>&1 &
  printf '%s\n%s\n' "$!" "${real}" >"$(pidfile "${name}")"
  log "started ${name} (pid $!)"
}

# stop_one NAME: TERM, wait up to 20 s, then KILL; always removes the pid file.
stop_one() {
  local name="$1" pf pid i
  pf="$(pidfile "${name}")"
  [[ -e "${pf}" ]] || return 0
  if is_ours "${name}"; then
    pid="$(pid_of "${name}")"
    log "stopping ${name} (pid ${pid})"
    kill -TERM "${pid}" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
      [[ -d "/proc/${pid}" ]] || break
      # a zombie child of a still-running shell counts as gone
      [[ "$(awk '{print $3}' "/proc/${pid}/stat" 2>/dev/null)" == "Z" ]] && break
      sleep 0.1
    done
    if [[ -d "/proc/${pid}" ]] && [[ "$(awk '{print $3}' "/proc/${pid}/stat" 2>/dev/null)" != "Z" ]]; then
      log "${name} ignored SIGTERM; sending SIGKILL"
      kill -KILL "${pid}" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do [[ -d "/proc/${pid}" ]] || break; sleep 0.1; done
    fi
  fi
  rm -f "${pf}"
}

# --------------------------------------------------------------------------
# Cluster material
# --------------------------------------------------------------------------

# Prints three distinct free loopback TCP ports (kernel-assigned). All three
# sockets are held open together so the ports are distinct.
free_ports() {
  "${PY}" - <<'EOF'
import socket
socks = []
for _ in range(3):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

gen_pki() {
  local d="${STATE}/pki"
  mkdir -p "${d}"; chmod 700 "${d}"
  # CA (explicit v3 CA extensions: rustls/webpki are strict about them).
  openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 3650 \
    -keyout "${d}/ca.key" -out "${d}/ca.crt" -subj "/CN=sluice-test-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
  # Serving certificate for 127.0.0.1 / localhost, signed by the CA.
  openssl req -new -nodes -newkey rsa:2048 -sha256 \
    -keyout "${d}/apiserver.key" -out "${d}/apiserver.csr" -subj "/CN=kube-apiserver" 2>/dev/null
  cat >"${d}/apiserver.ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash
EOF
  openssl x509 -req -sha256 -days 3650 -in "${d}/apiserver.csr" \
    -CA "${d}/ca.crt" -CAkey "${d}/ca.key" -CAcreateserial \
    -extfile "${d}/apiserver.ext" -out "${d}/apiserver.crt" 2>/dev/null
  # Service-account token signing key pair.
  openssl genrsa -out "${d}/sa.key" 2048 2>/dev/null
  openssl rsa -in "${d}/sa.key" -pubout -out "${d}/sa.pub" 2>/dev/null
  chmod 600 "${d}"/*.key
}

# Static bearer tokens (--token-auth-file): token,user,uid,"groups".
gen_tokens() {
  ADMIN_TOKEN="$(openssl rand -hex 24)"
  LIMITED_TOKEN="$(openssl rand -hex 24)"
  printf '%s\n' "${ADMIN_TOKEN}" >"${STATE}/admin.token"
  printf '%s\n' "${LIMITED_TOKEN}" >"${STATE}/limited.token"
  {
    printf '%s,admin,sluice-admin,"system:masters"\n' "${ADMIN_TOKEN}"
    printf '%s,limited,sluice-limited\n' "${LIMITED_TOKEN}"
  } >"${STATE}/pki/tokens.csv"
  chmod 600 "${STATE}/admin.token" "${STATE}/limited.token" "${STATE}/pki/tokens.csv"
}

write_kubeconfig() {
  local ca_b64; ca_b64="$(base64 -w0 "${STATE}/pki/ca.crt")"
  cat >"${STATE}/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sluice-test
  cluster:
    server: ${SERVER}
    certificate-authority-data: ${ca_b64}
users:
- name: admin
  user:
    token: ${ADMIN_TOKEN}
- name: limited
  user:
    token: ${LIMITED_TOKEN}
contexts:
- name: admin
  context:
    cluster: sluice-test
    user: admin
- name: limited
  context:
    cluster: sluice-test
    user: limited
current-context: admin
preferences: {}
EOF
  cat >"${STATE}/cluster.env" <<EOF
# sourced by tests/tools; written by scripts/test-cluster.sh start
SLUICE_TEST_KUBECONFIG=${STATE}/kubeconfig
SLUICE_TEST_SERVER=${SERVER}
SLUICE_TEST_CA=${STATE}/pki/ca.crt
SLUICE_TEST_ADMIN_TOKEN_FILE=${STATE}/admin.token
SLUICE_TEST_LIMITED_TOKEN_FILE=${STATE}/limited.token
SLUICE_TEST_APISERVER_PORT=${APISERVER_PORT}
SLUICE_TEST_ETCD_PORT=${ETCD_PORT}
SLUICE_TEST_ETCD_PEER_PORT=${ETCD_PEER_PORT}
EOF
  chmod 600 "${STATE}/kubeconfig"
}

# kcurl METHOD PATH [curl args...] : authenticated admin call, prints body,
# fails on HTTP >= 400 (body goes to stderr then).
kcurl() {
  local method="$1" path="$2"; shift 2
  local out code
  out="$(mktemp)"
  code="$(curl -sS --noproxy '*' --cacert "${STATE}/pki/ca.crt" \
    -H "Authorization: Bearer ${ADMIN_TOKEN}" -X "${method}" \
    -o "${out}" -w '%{http_code}' "$@" "${SERVER}${path}")" || { rm -f "${out}"; return 1; }
  if [[ "${code}" -ge 400 ]]; then
    log "${method} ${path} -> HTTP ${code}: $(head -c 2000 "${out}")"
    rm -f "${out}"; return 1
  fi
  cat "${out}"; rm -f "${out}"
}

# Server-side apply of a JSON/YAML manifest read from stdin (create-or-update,
# idempotent). Used for the small RBAC objects.
ssa() {
  kcurl PATCH "$1?fieldManager=sluice-test-cluster&force=true" \
    -H 'Content-Type: application/apply-patch+yaml' --data-binary @- >/dev/null
}

install_rbac() {
  ssa /apis/rbac.authorization.k8s.io/v1/clusterroles/sluice-test-readonly <<'EOF'
{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
 "metadata": {"name": "sluice-test-readonly"},
 "rules": [
  {"apiGroups": ["sparkoperator.k8s.io"],
   "resources": ["sparkapplications", "sparkapplications/status"],
   "verbs": ["get", "list", "watch"]},
  {"apiGroups": [""], "resources": ["namespaces", "configmaps"], "verbs": ["get", "list", "watch"]}]}
EOF
  ssa /apis/rbac.authorization.k8s.io/v1/clusterrolebindings/sluice-test-limited-readonly <<'EOF'
{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
 "metadata": {"name": "sluice-test-limited-readonly"},
 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "sluice-test-readonly"},
 "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "limited"}]}
EOF
  log "RBAC: user 'limited' bound to ClusterRole sluice-test-readonly"
}

# Install an upstream CRD: install_crd NAME FILE GROUP/VERSION.
# Why curl and not kubectl: kubectl may be absent (fresh CI), Debian's
# kubernetes-client is built from the same vendored reflect2 1.0.1 with Go 1.19
# (the memory-corruption snag above), and a modern kubectl is far outside the
# supported skew of a 1.20 server. The apiserver's REST API is all we need.
# Why plain POST/PUT and not (server-side) apply: the CRD is ~800 KB; apply
# would add a huge last-applied annotation or managedFields entry and can push
# the object past etcd's 1.5 MiB request limit.
install_crd() {
  local CRD_NAME="$1" served="$3"
  local src="${CRDS_DIR}/$2"
  [[ -r "${src}" ]] || die "CRD not found: ${src} (set SLUICE_CRDS_DIR)"
  local json="${STATE}/crd-${CRD_NAME}.json"
  # Kubernetes 1.20 rejects `default: ""` on some string fields of the
  # structural schema; drop every `default` whose value is the empty string.
  "${PY}" - "${src}" "${json}" <<'EOF'
import json, sys, yaml
def strip(node):
    if isinstance(node, dict):
        if node.get("default") == "":
            del node["default"]
        for v in node.values():
            strip(v)
    elif isinstance(node, list):
        for v in node:
            strip(v)
with open(sys.argv[1]) as f:
    docs = [d for d in yaml.safe_load_all(f) if d]
assert len(docs) == 1 and docs[0]["kind"] == "CustomResourceDefinition", "expected one CRD"
strip(docs[0])
with open(sys.argv[2], "w") as f:
    json.dump(docs[0], f, separators=(",", ":"))
EOF
  local base=/apis/apiextensions.k8s.io/v1/customresourcedefinitions
  if kcurl GET "${base}/${CRD_NAME}" >/dev/null 2>&1; then
    # Already there (start is re-run against an existing etcd): replace it.
    local rv
    rv="$(kcurl GET "${base}/${CRD_NAME}" | "${PY}" -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')"
    "${PY}" - "${json}" "${rv}" <<'EOF'
import json, sys
p, rv = sys.argv[1], sys.argv[2]
d = json.load(open(p)); d["metadata"]["resourceVersion"] = rv
json.dump(d, open(p, "w"), separators=(",", ":"))
EOF
    kcurl PUT "${base}/${CRD_NAME}" -H 'Content-Type: application/json' --data-binary "@${json}" >/dev/null
  else
    kcurl POST "${base}" -H 'Content-Type: application/json' --data-binary "@${json}" >/dev/null
  fi
  # Wait for Established, then for the group/version to be served.
  local deadline=$((SECONDS + 60)) established=""
  while ((SECONDS < deadline)); do
    established="$(kcurl GET "${base}/${CRD_NAME}" 2>/dev/null | "${PY}" -c '
import json, sys
c = (json.load(sys.stdin).get("status") or {}).get("conditions") or []
print("yes" if any(x["type"] == "Established" and x["status"] == "True" for x in c) else "")' || true)"
    [[ "${established}" == "yes" ]] && kcurl GET "/apis/${served}" >/dev/null 2>&1 && break
    sleep 0.5
  done
  [[ "${established}" == "yes" ]] || die "CRD ${CRD_NAME} did not become Established"
  log "CRD ${CRD_NAME} established"
}

# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------
load_env() {
  [[ -r "${STATE}/cluster.env" ]] || return 1
  # shellcheck disable=SC1091
  source "${STATE}/cluster.env"
  SERVER="${SLUICE_TEST_SERVER}"
  ADMIN_TOKEN="$(cat "${STATE}/admin.token")"
}

running_state() {   # prints: running | stopped | partial
  local n=0
  is_ours etcd && n=$((n + 1))
  is_ours kube-apiserver && n=$((n + 1))
  case "$n" in 2) echo running ;; 0) echo stopped ;; *) echo partial ;; esac
}

cmd_status() {
  local st; st="$(running_state)"
  case "${st}" in
    running)
      load_env || true
      local ready="not ready"
      if curl -fsS --noproxy '*' --max-time 5 --cacert "${STATE}/pki/ca.crt" \
          -H "Authorization: Bearer ${ADMIN_TOKEN:-}" "${SERVER:-https://127.0.0.1:1}/readyz" >/dev/null 2>&1; then
        ready="ready"
      fi
      echo "running (${ready}): ${SERVER:-?} etcd pid $(pid_of etcd), kube-apiserver pid $(pid_of kube-apiserver); kubeconfig ${STATE}/kubeconfig"
      return 0 ;;
    partial) echo "partially running (state ${STATE}); run 'stop' then 'start'"; return 1 ;;
    *)       echo "stopped (state ${STATE})"; return 3 ;;
  esac
}

cmd_env() {
  [[ "$(running_state)" == running ]] || log "warning: cluster is not running (start it first)"
  echo "export SLUICE_TEST_KUBECONFIG=${STATE}/kubeconfig"
}

cmd_stop() {
  # apiserver first (it depends on etcd), then etcd.
  stop_one kube-apiserver
  stop_one etcd
  log "stopped (state kept in ${STATE} until the next start)"
}

# Wipe and recreate the state dir -- only if it is ours (has our marker) or empty.
fresh_state_dir() {
  if [[ -d "${STATE}" ]]; then
    if [[ -e "${MARKER}" ]] || [[ -z "$(ls -A "${STATE}")" ]]; then
      rm -rf "${STATE}"
    else
      die "${STATE} exists and was not created by this script; refusing to wipe it"
    fi
  fi
  mkdir -p "${STATE}"/{pids,logs,etcd}
  chmod 700 "${STATE}" "${STATE}/etcd"
  touch "${MARKER}"
}

dump_logs() {
  local f
  for f in "${STATE}"/logs/*.log; do
    [[ -e "$f" ]] || continue
    printf '\n===== last 60 lines of %s =====\n' "$f" >&2
    tail -n 60 "$f" >&2
  done
}

START_OK=0
on_start_exit() {
  if [[ "${START_OK}" -ne 1 ]]; then
    log "start failed; logs follow, and the processes started so far are stopped"
    dump_logs
    stop_one kube-apiserver || true
    stop_one etcd || true
  fi
}

cmd_start() {
  case "$(running_state)" in
    running)
      if load_env && curl -fsS --noproxy '*' --max-time 5 --cacert "${STATE}/pki/ca.crt" \
          -H "Authorization: Bearer ${ADMIN_TOKEN}" "${SERVER}/readyz" >/dev/null 2>&1; then
        log "already running at ${SERVER}"
        echo "export SLUICE_TEST_KUBECONFIG=${STATE}/kubeconfig"
        return 0
      fi
      log "running but not ready; restarting"; cmd_stop ;;
    partial) log "partially running; restarting"; cmd_stop ;;
  esac

  local t0=${SECONDS}
  ensure_runtime_tools
  resolve_binaries

  fresh_state_dir
  trap on_start_exit EXIT

  local p1 p2 p3
  read -r p1 p2 p3 < <(free_ports) || true
  [[ "${p1:-}" =~ ^[0-9]+$ && "${p3:-}" =~ ^[0-9]+$ ]] || die "could not pick free loopback ports"
  APISERVER_PORT="${SLUICE_APISERVER_PORT:-$p1}"
  ETCD_PORT="${SLUICE_ETCD_PORT:-$p2}"
  ETCD_PEER_PORT="${SLUICE_ETCD_PEER_PORT:-$p3}"
  SERVER="https://127.0.0.1:${APISERVER_PORT}"

  gen_pki
  gen_tokens
  write_kubeconfig

  # ---- etcd: single member, loopback only, data in the state dir ----------
  local etcd_url="http://127.0.0.1:${ETCD_PORT}" peer_url="http://127.0.0.1:${ETCD_PEER_PORT}"
  # etcd 3.4 refuses to run on arm64 unless told so (irrelevant on amd64).
  if [[ "$(uname -m)" == aarch64 ]]; then export ETCD_UNSUPPORTED_ARCH=arm64; fi
  start_bg etcd "${ETCD_BIN}" \
    --name=sluice-test \
    --data-dir="${STATE}/etcd" \
    --listen-client-urls="${etcd_url}" \
    --advertise-client-urls="${etcd_url}" \
    --listen-peer-urls="${peer_url}" \
    --initial-advertise-peer-urls="${peer_url}" \
    --initial-cluster="sluice-test=${peer_url}" \
    --initial-cluster-state=new \
    --initial-cluster-token=sluice-test \
    --enable-v2=false \
    --logger=zap --log-outputs=stderr
  local deadline=$((SECONDS + START_TIMEOUT))
  until curl -fsS --noproxy '*' --max-time 2 "${etcd_url}/health" 2>/dev/null | grep -q '"health":"true"'; do
    is_ours etcd || die "etcd exited during startup"
    ((SECONDS < deadline)) || die "etcd not healthy after ${START_TIMEOUT}s"
    sleep 0.2
  done
  log "etcd healthy at ${etcd_url}"

  # ---- kube-apiserver: loopback only, RBAC, static tokens -----------------
  local pki="${STATE}/pki"
  start_bg kube-apiserver "${APISERVER_BIN}" \
    --etcd-servers="${etcd_url}" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="${APISERVER_PORT}" \
    --insecure-port=0 \
    --cert-dir="${pki}" \
    --tls-cert-file="${pki}/apiserver.crt" \
    --tls-private-key-file="${pki}/apiserver.key" \
    --client-ca-file="${pki}/ca.crt" \
    --token-auth-file="${pki}/tokens.csv" \
    --authorization-mode=RBAC \
    --service-account-issuer="https://kubernetes.default.svc" \
    --service-account-key-file="${pki}/sa.pub" \
    --service-account-signing-key-file="${pki}/sa.key" \
    --api-audiences="https://kubernetes.default.svc" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --endpoint-reconciler-type=none \
    --disable-admission-plugins=ServiceAccount \
    --allow-privileged=true \
    --profiling=false
  until curl -fsS --noproxy '*' --max-time 2 --cacert "${pki}/ca.crt" \
      -H "Authorization: Bearer ${ADMIN_TOKEN}" "${SERVER}/readyz" >/dev/null 2>&1; do
    is_ours kube-apiserver || die "kube-apiserver exited during startup"
    ((SECONDS < deadline)) || die "kube-apiserver not ready after ${START_TIMEOUT}s"
    sleep 0.3
  done
  log "kube-apiserver ready at ${SERVER}"

  install_rbac
  local crd
  for crd in "${CRDS[@]}"; do
    # shellcheck disable=SC2086
    install_crd ${crd}
  done

  START_OK=1
  trap - EXIT
  log "cluster up in $((SECONDS - t0))s; kubeconfig ${STATE}/kubeconfig (contexts: admin [current], limited)"
  echo "export SLUICE_TEST_KUBECONFIG=${STATE}/kubeconfig"
}

main() {
  case "${1:-}" in
    start)  cmd_start ;;
    stop)   cmd_stop ;;
    status) cmd_status ;;
    env)    cmd_env ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
  esac
}

main "$@"
