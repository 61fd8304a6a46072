#!/usr/bin/env bash
# Regenerates src/assets/disclaimer.mp3 and hold-music.mp3 (committed; run only to change them).
# Needs Debian's espeak-ng, sox, libsox-fmt-mp3 and lame:
#   apt-get install -y espeak-ng sox libsox-fmt-mp3 lame
# Keep the spoken text equal to MESSAGES.disclaimer in src/lib/domain/messages.ts.
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/src/assets"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; cd "$work"
espeak-ng -v pt-br -s 165 -w disclaimer.wav \
  "Esta ligação pode ser gravada. Seus dados seguem a Lei Geral de Proteção de Dados."
lame --quiet -m m -b 32 disclaimer.wav "$out/disclaimer.mp3"
notes=(C4 E4 G4 C5 G4 E4 D4 F4 A4 D5 A4 F4 E4 G4 B4 E5 B4 G4 C4 E4 G4 C5 E5 C5)
files=()
for i in "${!notes[@]}"; do
  sox -q -n -r 22050 -c 1 "n$i.wav" synth 0.5 pluck "${notes[$i]}" fade 0 0.5 0.1
  files+=("n$i.wav")
done
sox "${files[@]}" melody.wav
sox melody.wav -C 64 "$out/hold-music.mp3" reverb 30 gain -n -3 repeat 3
soxi -D "$out/disclaimer.mp3" "$out/hold-music.mp3"
