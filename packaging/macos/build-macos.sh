#!/usr/bin/env bash
# Builds "Audience Manager.app" in a .dmg. UNTESTED here (no macOS machine); mirrors build-linux.sh.
# Needs Python 3.12+ (python.org or Homebrew) and Xcode command-line tools (iconutil, hdiutil).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd); cd "$ROOT"
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
python3 -m venv build/venv
build/venv/bin/python -m pip install -q --upgrade pip
build/venv/bin/python -m pip install -q . "pyinstaller>=6.10"
build/venv/bin/python packaging/render_icons.py build/icons
ICONSET=build/icons/audience-manager.iconset; mkdir -p "$ICONSET"
for s in 16 32 128 256 512; do
  cp "build/icons/audience-manager-$s.png" "$ICONSET/icon_${s}x${s}.png"
  d=$((s * 2)); [ -f "build/icons/audience-manager-$d.png" ] && cp "build/icons/audience-manager-$d.png" "$ICONSET/icon_${s}x${s}@2x.png"
done
iconutil -c icns "$ICONSET" -o build/icons/audience-manager.icns
AM_ICON_DIR=build/icons build/venv/bin/pyinstaller --noconfirm --clean --distpath build/dist \
  --workpath build/work packaging/audience-manager.spec
"build/dist/Audience Manager.app/Contents/MacOS/audience-manager" --version
hdiutil create -volname "Audience Manager" -srcfolder "build/dist/Audience Manager.app" -ov -format UDZO \
  "build/audience-manager-$VERSION-macos.dmg"
