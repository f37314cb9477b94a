#!/usr/bin/env bash
# Install the LiteLLM proxy into its own venv for the gateway integration tests (idempotent).
# Usage: scripts/install-litellm.sh [VENV]   (default: $TASKRUN_LITELLM_VENV or /opt/taskrun-litellm)
# Prints the path of the `litellm` binary; export it as TASKRUN_LITELLM if VENV is not the default.
set -euo pipefail

LITELLM_VERSION=1.108.7
# Without prisma an unauthenticated request gets 500 instead of 401.
PRISMA_VERSION=0.15.0
venv=${1:-${TASKRUN_LITELLM_VENV:-/opt/taskrun-litellm}}
python=${PYTHON:-python3}
binary="$venv/bin/litellm"

installed_version() {
  "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))' 2>/dev/null || true
}

if [ -x "$binary" ] && [ "$(installed_version)" = "$LITELLM_VERSION" ]; then
  echo "$binary"
  exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  "litellm[proxy]==$LITELLM_VERSION" "prisma==$PRISMA_VERSION" >&2
[ -x "$binary" ] || { echo "install-litellm.sh: $binary missing after install" >&2; exit 1; }
echo "$binary"
