#!/usr/bin/env bash
# Regenerates libs/contracts/src/quanyi from proto/ with grpcio-tools (make proto).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
out=${1:-libs/contracts/src}
rm -rf "$out/quanyi"
mkdir -p "$out"
mapfile -t files < <(cd proto && find quanyi -name '*.proto' | sort)
(cd proto && "$OLDPWD/$PY" -m grpc_tools.protoc -I . --python_out="$OLDPWD/$out" --pyi_out="$OLDPWD/$out" \
  --grpc_python_out="$OLDPWD/$out" "${files[@]}")
# Packages need __init__.py so setuptools finds them.
find "$out/quanyi" -type d -exec touch {}/__init__.py \;
touch "$out/quanyi/py.typed"
