#!/usr/bin/env bash
# Builds the Linux packages from a clean checkout: build/audience-manager_VERSION_ARCH.deb and
# build/audience-manager-VERSION-linux-ARCH.tar.gz (the same PyInstaller folder).
# Needs: python3 (3.11+) with venv, dpkg-deb. Usage: bash packaging/build-linux.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD="$ROOT/build"
PYTHON=${PYTHON:-python3}
cd "$ROOT"

VERSION=$("$PYTHON" -c 'import tomllib;print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])' 2>/dev/null \
    || sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
ARCH=$(dpkg --print-architecture)
APP_ID=io.github.audiencemanager.AudienceManager
echo "Building Audience Manager $VERSION for $ARCH"

rm -rf "$BUILD/dist" "$BUILD/work" "$BUILD/deb" "$BUILD/icons"
mkdir -p "$BUILD"
if [ ! -x "$BUILD/venv/bin/python" ]; then "$PYTHON" -m venv "$BUILD/venv"; fi
"$BUILD/venv/bin/python" -m pip install -q --upgrade pip
"$BUILD/venv/bin/python" -m pip install -q "$ROOT" "pyinstaller>=6.10"

"$BUILD/venv/bin/python" packaging/render_icons.py "$BUILD/icons" >/dev/null
AM_ICON_DIR="$BUILD/icons" "$BUILD/venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath "$BUILD/dist" --workpath "$BUILD/work" packaging/audience-manager.spec

# The package tree: the bundle in /opt, a launcher on the PATH, menu entry, metainfo, icons.
DEB="$BUILD/deb"
mkdir -p "$DEB/opt" "$DEB/usr/bin" "$DEB/usr/share/applications" "$DEB/usr/share/metainfo" \
    "$DEB/usr/share/icons/hicolor/scalable/apps" "$DEB/DEBIAN"
cp -a "$BUILD/dist/audience-manager" "$DEB/opt/audience-manager"
ln -s /opt/audience-manager/audience-manager "$DEB/usr/bin/audience-manager"
install -m 644 packaging/linux/$APP_ID.desktop "$DEB/usr/share/applications/"
sed "s/@VERSION@/$VERSION/; s/@DATE@/$(date -u +%Y-%m-%d)/" packaging/linux/$APP_ID.metainfo.xml \
    > "$DEB/usr/share/metainfo/$APP_ID.metainfo.xml"
install -m 644 resources/audience-manager.svg "$DEB/usr/share/icons/hicolor/scalable/apps/audience-manager.svg"
for size in 16 24 32 48 64 128 256 512; do
    mkdir -p "$DEB/usr/share/icons/hicolor/${size}x${size}/apps"
    install -m 644 "$BUILD/icons/audience-manager-$size.png" \
        "$DEB/usr/share/icons/hicolor/${size}x${size}/apps/audience-manager.png"
done
if [ -d resources/screenshots ]; then
    mkdir -p "$DEB/usr/share/audience-manager/screenshots"
    cp resources/screenshots/*.png "$DEB/usr/share/audience-manager/screenshots/" 2>/dev/null || true
fi
INSTALLED_KB=$(du -sk "$DEB" | cut -f1)
sed "s/@VERSION@/$VERSION/; s/@ARCH@/$ARCH/; s/@SIZE@/$INSTALLED_KB/" packaging/linux/control \
    > "$DEB/DEBIAN/control"
install -m 755 packaging/linux/postinst "$DEB/DEBIAN/postinst"
install -m 755 packaging/linux/postrm "$DEB/DEBIAN/postrm"

OUT_DEB="$BUILD/audience-manager_${VERSION}_${ARCH}.deb"
dpkg-deb --build --root-owner-group -Zxz "$DEB" "$OUT_DEB" >/dev/null
OUT_TGZ="$BUILD/audience-manager-${VERSION}-linux-${ARCH}.tar.gz"
tar -C "$BUILD/dist" -czf "$OUT_TGZ" audience-manager

ls -l "$OUT_DEB" "$OUT_TGZ"
echo "deb: $(du -m "$OUT_DEB" | cut -f1) MB, installed: $((INSTALLED_KB / 1024)) MB"
