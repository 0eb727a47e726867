#!/usr/bin/env bash
# Installs the built .deb (apt-get when root, else unpacks it into a fresh root), starts the
# installed app with --smoke offscreen, checks the keyring backends load in the bundle, checks the
# menu data and the size, and uninstalls. Usage: bash packaging/smoke-linux.sh [build/audience-manager_*.deb]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEB=${1:-$(ls "$ROOT"/build/audience-manager_*.deb | head -1)}
MAX_MB=${MAX_MB:-90}
export QT_QPA_PLATFORM=offscreen
SIZE_MB=$(( $(stat -c %s "$DEB") / 1024 / 1024 ))
echo "package: $DEB ($SIZE_MB MB)"
[ "$SIZE_MB" -lt "$MAX_MB" ] || { echo "FAIL: package is $SIZE_MB MB, goal is under $MAX_MB MB"; exit 1; }

HOME_DIR=$(mktemp -d); export AUDIENCE_MANAGER_HOME="$HOME_DIR/data"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq "$DEB" >/dev/null
    BIN=audience-manager; PREFIX=""
else
    PREFIX=$(mktemp -d); dpkg-deb -x "$DEB" "$PREFIX"
    BIN="$PREFIX/opt/audience-manager/audience-manager"
fi

"$BIN" --version
HOME="$HOME_DIR" timeout 120 "$BIN" --smoke
# The Secret Service backend only loads when a Secret Service answers: start one for the check.
mkdir -p "$HOME_DIR/.cache"
if command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
    HOME="$HOME_DIR" dbus-run-session -- sh -c \
        'echo -n smoke | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$@"' \
        sh "$BIN" diagnose | tee "$HOME_DIR/diagnose.txt"
else
    echo "FAIL: the keyring check needs dbus-run-session and gnome-keyring"; exit 1
fi
grep -q "keyring backends:.*SecretService" "$HOME_DIR/diagnose.txt" \
    || { echo "FAIL: the SecretService keyring backend is not in the bundle"; exit 1; }
test -f "$PREFIX/usr/share/applications/io.github.audiencemanager.AudienceManager.desktop"
test -f "$PREFIX/usr/share/metainfo/io.github.audiencemanager.AudienceManager.metainfo.xml"
test -f "$PREFIX/usr/share/icons/hicolor/256x256/apps/audience-manager.png"
if command -v desktop-file-validate >/dev/null; then
    desktop-file-validate "$PREFIX/usr/share/applications/io.github.audiencemanager.AudienceManager.desktop"
fi

if [ -z "$PREFIX" ]; then
    apt-get purge -y -qq audience-manager >/dev/null
    [ ! -e /opt/audience-manager ] && [ ! -e /usr/bin/audience-manager ] \
        || { echo "FAIL: files left after uninstall"; exit 1; }
    echo "uninstalled cleanly"
fi
echo "smoke test passed"
