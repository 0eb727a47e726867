#!/usr/bin/env bash
# Builds "Audience Manager.app" in out/audience-manager-VERSION-macos-ARCH.dmg (ARCH: arm64, x86_64
# or universal2, from TARGET_ARCH; default: this Mac's). Not run on a Mac here; its steps mirror
# build-linux.sh and packages.yml runs it on an Apple-silicon and an Intel runner.
# Needs Python 3.12+ and the Xcode command-line tools (iconutil, hdiutil, codesign, xcrun).
# universal2 needs a universal2 Python (python.org's installer) so every wheel is fat.
# Signing and notarization run when their secrets are set:
#   MACOS_SIGN_IDENTITY   "Developer ID Application: NAME (TEAMID)", in the login keychain
#   MACOS_NOTARY_APPLE_ID, MACOS_NOTARY_PASSWORD (app-specific), MACOS_NOTARY_TEAM_ID
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd); cd "$ROOT"
PYTHON=${PYTHON:-python3}
OUT=out
VERSION=$("$PYTHON" -c 'import tomllib;print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
[ "$VERSION" = "$("$PYTHON" packaging/changelog.py version)" ] \
    || { echo "FAIL: pyproject's version is not CHANGELOG.md's top entry"; exit 1; }
ARCH=${TARGET_ARCH:-$(uname -m)}
APP="$OUT/dist/Audience Manager.app"
DMG="$OUT/audience-manager-$VERSION-macos-$ARCH.dmg"

rm -rf "$OUT/dist" "$OUT/work" "$OUT/icons" "$OUT/dmg"
mkdir -p "$OUT"
[ -x "$OUT/venv/bin/python" ] || "$PYTHON" -m venv "$OUT/venv"
"$OUT/venv/bin/python" -m pip install -q --upgrade pip
"$OUT/venv/bin/python" -m pip install -q . "pyinstaller>=6.10"
"$OUT/venv/bin/python" packaging/render_icons.py "$OUT/icons"
ICONSET="$OUT/icons/audience-manager.iconset"; mkdir -p "$ICONSET"
for s in 16 32 128 256 512; do
  cp "$OUT/icons/audience-manager-$s.png" "$ICONSET/icon_${s}x${s}.png"
  d=$((s * 2)); [ -f "$OUT/icons/audience-manager-$d.png" ] && cp "$OUT/icons/audience-manager-$d.png" "$ICONSET/icon_${s}x${s}@2x.png"
done
iconutil -c icns "$ICONSET" -o "$OUT/icons/audience-manager.icns"
"$OUT/venv/bin/python" packaging/third_party_notices.py "$OUT/THIRD-PARTY-NOTICES.txt"
AM_ICON_DIR="$OUT/icons" AM_NOTICES="$OUT/THIRD-PARTY-NOTICES.txt" AM_VERSION="$VERSION" AM_TARGET_ARCH="$ARCH" \
  "$OUT/venv/bin/pyinstaller" --noconfirm --clean --distpath "$OUT/dist" --workpath "$OUT/work" \
  packaging/audience-manager.spec

# The bundle says its version, runs, and is built for the architecture asked for.
[ "$(/usr/libexec/PlistBuddy -c 'Print :CFBundleShortVersionString' "$APP/Contents/Info.plist")" = "$VERSION" ] \
  || { echo "FAIL: the bundle's CFBundleShortVersionString is not $VERSION"; exit 1; }
"$APP/Contents/MacOS/audience-manager" --version | grep -F "$VERSION"
lipo -archs "$APP/Contents/MacOS/audience-manager"
QT_QPA_PLATFORM=offscreen AUDIENCE_MANAGER_HOME="$(mktemp -d)" "$APP/Contents/MacOS/audience-manager" --smoke

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  # Hardened runtime (notarization requires it); PyInstaller signed the pieces ad hoc, this re-signs
  # everything inside-out with the Developer ID.
  codesign --force --deep --options runtime --timestamp --sign "$MACOS_SIGN_IDENTITY" "$APP"
  codesign --verify --deep --strict --verbose=2 "$APP"
else
  echo "MACOS_SIGN_IDENTITY unset: the app is ad-hoc signed only (Gatekeeper will ask the user)"
fi

# The disk image: the app and a link to /Applications to drag it onto.
mkdir -p "$OUT/dmg"
cp -R "$APP" "$OUT/dmg/"
ln -s /Applications "$OUT/dmg/Applications"
cp LICENSE "$OUT/dmg/LICENSE.txt"
hdiutil create -volname "Audience Manager $VERSION" -srcfolder "$OUT/dmg" -ov -format UDZO "$DMG"

if [ -n "${MACOS_SIGN_IDENTITY:-}" ]; then
  codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" "$DMG"
  if [ -n "${MACOS_NOTARY_APPLE_ID:-}" ] && [ -n "${MACOS_NOTARY_PASSWORD:-}" ] && [ -n "${MACOS_NOTARY_TEAM_ID:-}" ]; then
    xcrun notarytool submit "$DMG" --apple-id "$MACOS_NOTARY_APPLE_ID" --password "$MACOS_NOTARY_PASSWORD" \
      --team-id "$MACOS_NOTARY_TEAM_ID" --wait
    xcrun stapler staple "$DMG"
    xcrun stapler validate "$DMG"
  else
    echo "notarization secrets unset: the dmg is signed, not notarized"
  fi
fi
test -s "$DMG" || { echo "FAIL: $DMG was not written"; exit 1; }
ls -l "$DMG"
