#!/usr/bin/env bash
# Print the path of a usable `uv`, installing it first when missing.
# Usage: scripts/bootstrap-uv.sh [python]    (python: the interpreter to bootstrap with; default python3)
# Order: uv on PATH; uv in ~/.local/bin; `pip install --user` (refused where the system Python is externally
# managed, PEP 668, e.g. Debian's); a private bootstrap venv under .state/ (needs the venv module); last,
# `pip install --user --break-system-packages`, which only writes to ~/.local, never to the system's packages.
set -euo pipefail
python=${1:-python3}
here=$(cd "$(dirname "$0")/.." && pwd)
bootstrap="$here/.state/uv-bootstrap"
if command -v uv >/dev/null 2>&1; then command -v uv; exit 0; fi
user_bin=$("$python" -c 'import site, os; print(os.path.join(site.getuserbase(), "bin"))')
for candidate in "$user_bin/uv" "$bootstrap/bin/uv"; do
  if [[ -x $candidate ]]; then echo "$candidate"; exit 0; fi
done
if "$python" -m pip install --quiet --user uv >&2 2>/dev/null && [[ -x $user_bin/uv ]]; then
  echo "$user_bin/uv"; exit 0
fi
echo "pip refused a --user install (PEP 668?); trying a bootstrap venv in $bootstrap" >&2
if "$python" -m venv "$bootstrap" >&2 2>/dev/null && "$bootstrap/bin/python" -m pip install --quiet uv >&2; then
  echo "$bootstrap/bin/uv"; exit 0
fi
rm -rf "$bootstrap"
echo "no venv module (Debian: apt-get install python3-venv); installing uv with --user --break-system-packages" >&2
"$python" -m pip install --quiet --user --break-system-packages uv >&2
echo "$user_bin/uv"
