#!/usr/bin/env bash
# The oldest glibc a folder of ELF files can run on: the highest GLIBC_x.y symbol version that any
# of them needs (objdump -T). Prints the floor on the first line, then each file that needs it and
# the highest need of a few named groups. Usage: bash packaging/linux/glibc-floor.sh DIR
set -euo pipefail
DIR=${1:?usage: glibc-floor.sh DIR}
TABLE=$(mktemp); trap 'rm -f "$TABLE"' EXIT
while IFS= read -r -d '' f; do
    file -b "$f" | grep -q '^ELF' || continue
    need=$(objdump -T "$f" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1 || true)
    [ -z "$need" ] || printf '%s\t%s\n' "$need" "${f#"$DIR"/}" >> "$TABLE"
done < <(find "$DIR" -type f -print0)
FLOOR=$(cut -f1 "$TABLE" | sort -uV | tail -1 || true)
echo "$FLOOR"
echo "files needing GLIBC_$FLOOR:"
awk -F '\t' -v f="$FLOOR" '$1 == f { print "  " $2 }' "$TABLE"
group() {  # name, path pattern
    local v; v=$(awk -F '\t' -v p="$2" '$2 ~ p { print $1 }' "$TABLE" | sort -uV | tail -1 || true)
    echo "highest need of $1: GLIBC_${v:-none}"
}
group "the Qt libraries and plugins (PySide6 wheel)" 'PySide6/'
group "the Python runtime (libpython, lib-dynload)" 'libpython|lib-dynload'
group "the other Python extensions" '\.(abi3|cpython-[0-9]+)[^/]*\.so'
