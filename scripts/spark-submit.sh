#!/usr/bin/env bash
# Installs PyPI's pyspark (spark-submit with Spark's Kubernetes jars) once
# into a cache keyed by version, and prints the path of its spark-submit.
# Spark 3.3.4: 3.4 and later apply the driver Service with server-side
# apply, which the test API server (1.20) refuses. Java 17 runs it.
set -euo pipefail
readonly VERSION="3.3.4"
readonly DIR="${SLUICE_CACHE_DIR:-$HOME/.cache/sluice}/pyspark-${VERSION}"

find_submit() {
  local found
  found=$(ls "${DIR}"/lib/python3*/site-packages/pyspark/bin/spark-submit 2>/dev/null | head -n 1) || true
  [[ -n "${found}" && -f "${DIR}/.complete" ]] && echo "${found}"
}

if ! find_submit >/dev/null; then
  rm -rf "${DIR}"
  if ! python3 -m venv "${DIR}" >/dev/null 2>&1; then
    rm -rf "${DIR}"
    echo "[spark-submit] apt-get install python3-venv" >&2
    SUDO=""; [[ "$(id -u)" -eq 0 ]] || SUDO="sudo"
    ${SUDO} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >&2 \
      || { ${SUDO} apt-get update -qq >&2 && ${SUDO} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >&2; }
    python3 -m venv "${DIR}"
  fi
  echo "[spark-submit] pip install pyspark==${VERSION} into ${DIR}" >&2
  "${DIR}/bin/pip" install --quiet --disable-pip-version-check "pyspark==${VERSION}" >&2
  command -v java >/dev/null || { echo "[spark-submit] java is not on PATH (Spark ${VERSION} runs on Java 17)" >&2; exit 1; }
  touch "${DIR}/.complete"
fi
find_submit
