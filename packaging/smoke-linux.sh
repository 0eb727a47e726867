#!/usr/bin/env bash
# Checks the built .deb as a user's machine and Debian's tools would: lintian (no error outside the
# documented overrides), its Depends (libc6 at least the bundle's glibc floor), no system library
# copied into the bundle, its size; then installs it (apt-get when root, else unpacks it into a
# fresh root), opens a CSV given on the command line in the window, runs --smoke offscreen, checks
# the keyring backends load in the bundle, signs in to the simulated Kit through "the browser" and
# checks that browser got the user's environment, validates the menu data, and purges it.
# Usage: bash packaging/smoke-linux.sh [out/audience-manager_*.deb]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEB=${1:-$(ls "$ROOT"/out/audience-manager_*.deb | sed -n 1p)}
MAX_MIB=${MAX_MIB:-60}
APP_ID=io.github.audiencemanager.AudienceManager
export QT_QPA_PLATFORM=offscreen
fail() { echo "FAIL: $*"; exit 1; }

SIZE=$(stat -c %s "$DEB")
echo "package: $DEB ($SIZE bytes, $((SIZE / 1048576)) MiB)"
[ "$SIZE" -le $((MAX_MIB * 1048576)) ] || fail "the package is over $MAX_MIB MiB"

# Lintian: an error fails the check; what a PyInstaller bundle in /opt cannot avoid is in the
# package's own overrides file, each with its reason, and is listed here as O: lines. (With
# --show-overrides lintian exits 2 for an overridden error too, so the E: lines decide.)
if command -v lintian >/dev/null; then
    echo "== lintian"
    lintian --display-info --show-overrides --tag-display-limit 0 "$DEB" > "$ROOT/out/lintian.txt" 2>&1 || true
    grep -q '^[EWIO]: \|^N: ' "$ROOT/out/lintian.txt" || { cat "$ROOT/out/lintian.txt"; fail "lintian did not run"; }
    count() { grep -c "^$1: " "$ROOT/out/lintian.txt" || true; }
    printf 'lintian: %s errors, %s warnings, %s info, %s overridden (%s distinct tags)\n' \
        "$(count E)" "$(count W)" "$(count I)" "$(count O)" \
        "$(grep '^O: ' "$ROOT/out/lintian.txt" | cut -d' ' -f3 | sort -u | paste -sd' ' -)"
    grep -E '^(E|W): ' "$ROOT/out/lintian.txt" || true
    [ "$(count E)" = 0 ] || fail "lintian reports errors"
else
    fail "lintian is not installed (apt-get install lintian)"
fi

# Depends against the bundle's own needs, and no copy of a library the system provides.
UNPACKED=$(mktemp -d); trap 'rm -rf "$UNPACKED"' EXIT
dpkg-deb -x "$DEB" "$UNPACKED"
FLOOR=$(bash "$ROOT/packaging/linux/glibc-floor.sh" "$UNPACKED/opt/audience-manager" | sed -n 1p)
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
echo "glibc floor: $FLOOR; Depends: $DEPENDS"
grep -Eq "(^|, )libc6 \(>= $FLOOR\)" <<<"$DEPENDS" || fail "Depends lacks libc6 (>= $FLOOR)"
# (Listings are read whole before they are searched: `producer | grep -q` fails under pipefail
# when grep stops reading early.)
SYSTEM_COPIES=$(find "$UNPACKED/opt" \( -name 'libstdc++.so*' -o -name 'libgtk-3.so*' -o -name 'libgdk-3.so*' \
    -o -name 'libgcc_s.so*' -o -name 'libglib-2.0.so*' -o -name 'libqgtk3.so' \))
[ -z "$SYSTEM_COPIES" ] || fail "the bundle holds system libraries: $SYSTEM_COPIES"
SEARCH_PATHS=$(find "$UNPACKED/opt" -type f -name '*.so*' -exec readelf -d {} + 2>/dev/null | grep -E 'R(UN)?PATH' || true)
OUTSIDE=$(grep -v '\[\$ORIGIN[^]]*\]$' <<<"$SEARCH_PATHS" || true)
[ -z "$OUTSIDE" ] || fail "a library's search path leads outside the bundle: $OUTSIDE"
test -f "$UNPACKED/usr/share/doc/audience-manager/copyright"
test -f "$UNPACKED/usr/share/doc/audience-manager/changelog.gz"
zgrep -q "LGPL-3.0" "$UNPACKED/usr/share/doc/audience-manager/THIRD-PARTY-NOTICES.txt.gz"
grep -q "GNU LESSER GENERAL PUBLIC LICENSE" "$UNPACKED/opt/audience-manager/_internal/THIRD-PARTY-NOTICES.txt"
CONTROL_FILES=$(dpkg-deb --ctrl-tarfile "$DEB" | tar -t)
grep -qx './md5sums' <<<"$CONTROL_FILES" || fail "no md5sums"

HOME_DIR=$(mktemp -d); export AUDIENCE_MANAGER_HOME="$HOME_DIR/data"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq "$DEB" >/dev/null
    BIN=audience-manager; PREFIX=""
else
    PREFIX=$(mktemp -d); dpkg-deb -x "$DEB" "$PREFIX"
    BIN="$PREFIX/opt/audience-manager/audience-manager"
fi

"$BIN" --version
# A file given on the command line (as the menu's %F and a drop on the launcher give it) opens in
# the window's audience panel: the hidden --report-audience prints what the panel read, and quits.
printf 'email,first_name\nann@example.com,Ann\nbob@example.com,Bob\nnot-an-email,Nobody\nann@example.com,Ann\n' \
    > "$HOME_DIR/subscribers.csv"
HOME="$HOME_DIR" timeout 120 "$BIN" --report-audience "$HOME_DIR/subscribers.csv" | tee "$HOME_DIR/audience.txt"
grep -q "audience: 2 rows to send, 1 invalid, 1 duplicate from .*subscribers.csv" "$HOME_DIR/audience.txt" \
    || fail "the CSV given on the command line did not open in the audience panel"
HOME="$HOME_DIR" timeout 120 "$BIN" --smoke
# With a Secret Service (started for the check): the SecretService backend loads inside the
# bundle, and a Kit OAuth sign-in through the simulated platforms opens "the browser" (a stand-in
# named by $BROWSER that notes its environment and follows the link), which must get the user's
# LD_LIBRARY_PATH, not the bundle's: the bootloader set it to the bundle's _internal folder.
mkdir -p "$HOME_DIR/.cache"
cat > "$HOME_DIR/browser" <<'EOF_BROWSER'
#!/bin/sh
{ echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH-unset}"; echo "QT_PLUGIN_PATH=${QT_PLUGIN_PATH-unset}"
  echo "bootloader variables: $(env | grep -c '^_PYI_')"; } > "$BROWSER_ENV_OUT"
exec curl -fsSL -o /dev/null "$1"
EOF_BROWSER
chmod +x "$HOME_DIR/browser"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
    HOME="$HOME_DIR" BROWSER="$HOME_DIR/browser" BROWSER_ENV_OUT="$HOME_DIR/browser-env.txt" \
    LD_LIBRARY_PATH=/users/own/lib timeout 120 dbus-run-session -- sh -c '
        echo -n smoke | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 1
        "$1" diagnose > "$2/diagnose.txt" || exit 1
        "$1" sandbox --port "$3" > "$2/sandbox.txt" 2>&1 & sandbox=$!
        for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$3/" && break; sleep 0.2; done
        url=http://127.0.0.1:$3
        "$1" accounts add --platform kit-v4 --auth oauth --name Smoke --base-url "$url" \
            --client-id sandbox-audience-manager --authorize-url "$url/oauth/authorize" \
            --token-url "$url/oauth/token"; code=$?
        kill "$sandbox"; exit $code' sh "$BIN" "$HOME_DIR" "$PORT" 2>&1 | grep -v 'Failed to set fd limit'
    cat "$HOME_DIR/diagnose.txt" "$HOME_DIR/browser-env.txt"
else
    fail "the keyring check needs dbus-run-session and gnome-keyring"
fi
grep -qx "LD_LIBRARY_PATH=/users/own/lib" "$HOME_DIR/browser-env.txt" \
    || fail "the browser did not get the user's LD_LIBRARY_PATH back"
grep -qx "QT_PLUGIN_PATH=unset" "$HOME_DIR/browser-env.txt" || fail "the browser got the bundle's Qt plugin path"
grep -qx "bootloader variables: 0" "$HOME_DIR/browser-env.txt" || fail "the browser got the bootloader's variables"
grep -q "keyring backends:.*SecretService" "$HOME_DIR/diagnose.txt" \
    || fail "the SecretService keyring backend is not in the bundle"
test -f "$PREFIX/usr/share/applications/$APP_ID.desktop"
test -f "$PREFIX/usr/share/metainfo/$APP_ID.metainfo.xml"
test -f "$PREFIX/usr/share/icons/hicolor/256x256/apps/$APP_ID.png"
if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$PREFIX/usr/share/applications/$APP_ID.desktop"
fi
if command -v appstreamcli >/dev/null; then
    appstreamcli validate --no-net --explain "$PREFIX/usr/share/metainfo/$APP_ID.metainfo.xml"
fi

if [ -z "$PREFIX" ]; then
    apt-get purge -y -qq audience-manager >/dev/null
    [ ! -e /opt/audience-manager ] && [ ! -e /usr/bin/audience-manager ] \
        && [ ! -e "/usr/share/applications/$APP_ID.desktop" ] && [ ! -e /usr/share/doc/audience-manager ] \
        || fail "files left after purge"
    ! dpkg -s audience-manager >/dev/null 2>&1 || fail "dpkg still knows the package"
    echo "purged cleanly"
fi
echo "smoke test passed"
