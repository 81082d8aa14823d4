#!/usr/bin/env bash
# Build the sdist and wheel into dist/, check them (twine check --strict; the wheel holds LICENSE, the
# base dependencies and the extras), then test the lean install: a fresh venv with only the base
# dependencies (requirements-base.lock, hash-checked; torch is the local CPU wheel of pip's find-links,
# as in setup.sh) and the built wheel tags a generated WAV with the default model, inspects, evaluates,
# and an extra-only command names its extra (scripts/lean_smoke.py). Run by .ci/run after scripts/test.sh.
#   bash scripts/check_dist.sh                 needs .venv (bash scripts/setup.sh)
#   CLIP2FRAME_LEAN_DIR=DIR bash ...           the lean venv and its scratch files (default build/lean, kept)
#   CLIP2FRAME_VENV=DIR bash ...               build with another full venv than .venv
set -euo pipefail
cd "$(dirname "$0")/.."
full=${CLIP2FRAME_VENV:-.venv}
PY=$full/bin/python
unset PYTHONPATH  # the lean venv must import the installed wheel, never src/
t0=$SECONDS
export PIP_DISABLE_PIP_VERSION_CHECK=1

echo "[dist] python -m build (sdist + wheel, no isolation: the locked setuptools of .venv)" >&2
rm -rf dist
"$PY" -m build --no-isolation --outdir dist . >/dev/null
"$PY" -m twine check --strict dist/*
"$PY" - <<'EOF'
import email, glob, sys, tomllib, zipfile

whl, = glob.glob("dist/clip2frame-*.whl")
z = zipfile.ZipFile(whl)
meta = email.message_from_bytes(z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))))
py = tomllib.load(open("pyproject.toml", "rb"))["project"]
problems = []
if not any(n.endswith(".dist-info/licenses/LICENSE") for n in z.namelist()):
    problems.append("no LICENSE in the wheel")
if meta["License-Expression"] != "MIT":
    problems.append(f"License-Expression {meta['License-Expression']!r}")
base = [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
if sorted(base) != sorted(py["dependencies"]):
    problems.append(f"base Requires-Dist {base} != pyproject dependencies")
extras = set(meta.get_all("Provides-Extra"))
if extras != set(py["optional-dependencies"]) or {"test", "dev"} & extras:
    problems.append(f"Provides-Extra {sorted(extras)}")
if not any(n.startswith("clip2frame/assets/") and n.endswith(".safetensors") for n in z.namelist()):
    problems.append("no packaged model in the wheel")
if problems:
    sys.exit(f"[dist] {whl}: " + "; ".join(problems))
print(f"[dist] {whl}: LICENSE, {len(base)} base dependencies, extras {', '.join(sorted(extras))}", file=sys.stderr)
EOF

t_build=$((SECONDS - t0))
# Kept after the run (removing its ~30k files took longer than the smoke test on a loaded VM) and reused
# while requirements-base.lock is unchanged: a fresh clone (CI) always builds it from scratch.
lean=${CLIP2FRAME_LEAN_DIR:-build/lean}
rm -rf "$lean/work"
stamp="$lean/venv/.clip2frame-base-lock"
want=$(sha1sum requirements-base.lock | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "[dist] lean venv $lean/venv: requirements-base.lock unchanged since it was made; reinstalling the wheel" >&2
else
  echo "[dist] lean install in $lean/venv (requirements-base.lock + the wheel)" >&2
  "$PY" -m venv --clear "$lean/venv"
  "$lean/venv/bin/python" -m pip install -q "pip==26.3"
  if ! "$lean/venv/bin/python" -m pip install -q --no-compile --require-hashes -r requirements-base.lock; then
    echo "[dist] installing requirements-base.lock failed (torch 2.13.0+cpu must be in pip's find-links," \
         "e.g. PIP_FIND_LINKS=/opt/wheels)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
"$lean/venv/bin/python" -m pip install -q --no-compile --no-deps --force-reinstall dist/clip2frame-*.whl
"$lean/venv/bin/python" -m pip check >&2  # the wheel's base dependencies are all there (and nothing else:
                                          # lean_smoke.py checks that no optional package is importable)
t_install=$((SECONDS - t0))
"$lean/venv/bin/python" scripts/lean_smoke.py "$lean/work"
size() { du -sh --exclude=__pycache__ "$1" | cut -f1; }  # installed with --no-compile: compare without bytecode
echo "[dist] lean venv $(size "$lean/venv"), full venv $full $(size "$full") (both without __pycache__);" \
     "elapsed: build $t_build s, lean install done at $t_install s, smoke test done at $((SECONDS - t0)) s" >&2
