#!/usr/bin/env bash
# Make a restic >= 0.17 available to Backup Center without touching the system's apt configuration.
#
# Resolution order used by the app: $RESTIC_BINARY, then <project>/.tools/bin/restic, then `restic` on PATH.
# If PATH already has a recent enough restic, or .tools/bin/restic exists and is recent enough, nothing is done.
# Otherwise the restic package of Debian 13 ("trixie", restic 0.18.x; it needs only libc6 >= 2.34 and so runs on
# Debian 12) is downloaded with a private, throw-away apt state and its binary is unpacked into .tools/bin/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_BIN="$ROOT/.tools/bin"
MIN_MAJOR=0
MIN_MINOR=17

log() { printf '==> [restic] %s\n' "$*"; }
die() { printf 'ERROR [restic]: %s\n' "$*" >&2; exit 1; }

# Print "X.Y.Z" of the given restic binary, or nothing if it does not run.
restic_version_of() {
    "$1" version 2>/dev/null | sed -n 's/^restic \([0-9][0-9]*\.[0-9][0-9]*\(\.[0-9][0-9]*\)\?\).*/\1/p' | head -n1
}

# True when version $1 (X.Y[.Z]) is >= MIN_MAJOR.MIN_MINOR.
version_ok() {
    local major minor
    IFS=. read -r major minor _ <<<"$1"
    [[ -n "$major" && -n "$minor" ]] || return 1
    ((major > MIN_MAJOR || (major == MIN_MAJOR && minor >= MIN_MINOR)))
}

if path_restic="$(command -v restic 2>/dev/null)"; then
    v="$(restic_version_of "$path_restic")"
    if [[ -n "$v" ]] && version_ok "$v"; then
        log "using restic $v from PATH ($path_restic)"
        exit 0
    fi
    log "restic on PATH ($path_restic) is ${v:-unusable}; need >= $MIN_MAJOR.$MIN_MINOR"
fi

if [[ -x "$TOOLS_BIN/restic" ]]; then
    v="$(restic_version_of "$TOOLS_BIN/restic")"
    if [[ -n "$v" ]] && version_ok "$v"; then
        log "using restic $v from $TOOLS_BIN/restic"
        exit 0
    fi
fi

command -v apt-get >/dev/null || die "apt-get not found; install restic >= $MIN_MAJOR.$MIN_MINOR by hand and set RESTIC_BINARY"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found; install restic >= $MIN_MAJOR.$MIN_MINOR by hand and set RESTIC_BINARY"

d="$(mktemp -d "${TMPDIR:-/tmp}/backupcenter-restic.XXXXXX")"
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/parts"

uris=""
if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
    uris="$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources | head -n1)"
fi
uris="${uris:-http://deb.debian.org/debian}"

cat >"$d/parts/trixie.sources" <<SOURCES
Types: deb
URIs: $uris
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

apt_private=(
    -o Dir::Etc::SourceList=/dev/null
    -o "Dir::Etc::SourceParts=$d/parts"
    -o "Dir::State::Lists=$d/lists"
    -o "Dir::Cache=$d/cache"
)
# apt drops privileges to _apt for downloads; the temp dir must be reachable by that user.
chmod 755 "$d"
if [[ $EUID -eq 0 ]] && id _apt >/dev/null 2>&1; then
    chown -R _apt "$d/lists/partial" "$d/cache/archives/partial"
    chown _apt "$d"
fi

log "fetching the Debian trixie package index from $uris (private apt state in $d)"
apt-get "${apt_private[@]}" -q update >"$d/update.log" 2>&1 || {
    cat "$d/update.log" >&2
    die "apt-get update for trixie failed"
}
log "downloading the restic package"
(cd "$d" && apt-get "${apt_private[@]}" -q download restic) >"$d/download.log" 2>&1 || {
    cat "$d/download.log" >&2
    die "apt-get download restic failed"
}

deb="$(ls "$d"/restic_*.deb 2>/dev/null | head -n1)"
[[ -n "$deb" ]] || die "no restic_*.deb was downloaded"
dpkg-deb -x "$deb" "$d/x"
[[ -x "$d/x/usr/bin/restic" ]] || die "$deb has no usr/bin/restic"

mkdir -p "$TOOLS_BIN"
install -m 0755 "$d/x/usr/bin/restic" "$TOOLS_BIN/restic.new"
mv -f "$TOOLS_BIN/restic.new" "$TOOLS_BIN/restic"

v="$(restic_version_of "$TOOLS_BIN/restic")"
if [[ -z "$v" ]] || ! version_ok "$v"; then
    die "installed $TOOLS_BIN/restic reports '${v:-nothing}', need >= $MIN_MAJOR.$MIN_MINOR"
fi
log "installed restic $v to $TOOLS_BIN/restic (from $(basename "$deb"))"
