#!/usr/bin/env bash
# Prepare this checkout of Backup Center: system packages, .venv, restic, front-end assets.
#
#   scripts/setup.sh run    # what `make run` needs (requirements.txt, redis-server)
#   scripts/setup.sh test   # what `make test` needs (requirements-dev.txt, Debian's chromium for Playwright)
#
# Idempotent and fast when nothing changed: pip and npm are skipped while the hash of their input files
# matches the stamp under var/.setup/. Root installs missing Debian packages with apt-get; anyone else gets
# a warning and the script carries on with what is there.
set -euo pipefail

MODE="${1:-run}"
case "$MODE" in
run | test) ;;
*)
    echo "usage: $0 [run|test]" >&2
    exit 2
    ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

STAMPS="$ROOT/var/.setup"
VENV="$ROOT/.venv"
VENDOR="$ROOT/static/vendor"

log() { printf '==> [setup %s] %s\n' "$MODE" "$*"; }
warn() { printf 'WARNING [setup %s]: %s\n' "$MODE" "$*" >&2; }
die() {
    printf 'ERROR [setup %s]: %s\n' "$MODE" "$*" >&2
    exit 1
}

# sha256 over the named files' contents (missing files hash as empty) plus any extra words.
hash_of() {
    local f
    {
        for f in "$@"; do
            if [[ -f "$f" ]]; then
                printf '%s\n' "$f"
                cat "$f"
            else
                printf '%s\n' "$f"
            fi
        done
    } | sha256sum | cut -d' ' -f1
}

stamp_matches() { [[ -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
stamp_write() { printf '%s\n' "$2" >"$STAMPS/$1"; }

mkdir -p "$STAMPS" "$ROOT/var/redis" "$ROOT/var/screenshots"

# --- 1. system packages -------------------------------------------------------------------------------------------
# Each Debian package is "present" if dpkg says so or the program it provides is already there (for example a
# PostgreSQL client from postgresql-client-15, or Node.js from another source).
pkg_present() {
    local pkg="$1"
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        return 0
    fi
    case "$pkg" in
    python3-venv) python3 -c 'import venv, ensurepip' >/dev/null 2>&1 ;;
    redis-server) command -v redis-server >/dev/null && command -v redis-cli >/dev/null ;;
    postgresql-client) command -v psql >/dev/null && command -v pg_isready >/dev/null ;;
    chromium) [[ -x /usr/bin/chromium ]] ;;
    npm) command -v npm >/dev/null ;;
    *) return 1 ;;
    esac
}

wanted=(python3-venv postgresql-client redis-server npm)
if [[ "$MODE" == test ]]; then
    wanted+=(chromium fonts-liberation fonts-dejavu-core)
fi
missing=()
for pkg in "${wanted[@]}"; do
    pkg_present "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
    log "system packages present: ${wanted[*]}"
elif [[ $EUID -ne 0 ]]; then
    warn "missing Debian packages: ${missing[*]}; not root, so not installing them (run as root, or: sudo apt-get install ${missing[*]})"
elif ! command -v apt-get >/dev/null; then
    warn "missing packages ${missing[*]} and no apt-get; install them by hand"
else
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. Python virtualenv -----------------------------------------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating virtualenv .venv"
    python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
    rm -f "$STAMPS"/pip-*
fi

run_hash="$(hash_of requirements.txt "$("$VENV/bin/python" -V 2>&1)")"
test_hash="$(hash_of requirements.txt requirements-dev.txt "$("$VENV/bin/python" -V 2>&1)")"
if [[ "$MODE" == test ]]; then
    req=requirements-dev.txt
    want_stamp=pip-test
    want_hash="$test_hash"
else
    req=requirements.txt
    want_stamp=pip-run
    want_hash="$run_hash"
fi
# requirements-dev.txt includes requirements.txt, so an up-to-date test install also satisfies `run`.
if stamp_matches "$want_stamp" "$want_hash" || { [[ "$MODE" == run ]] && stamp_matches pip-test "$test_hash"; }; then
    log "Python packages up to date ($req)"
else
    log "installing Python packages from $req"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
    stamp_write "$want_stamp" "$want_hash"
    [[ "$MODE" == test ]] && stamp_write pip-run "$run_hash"
fi

# --- 3. restic ----------------------------------------------------------------------------------------------------
bash "$ROOT/scripts/install-restic.sh"

# --- 4. front-end assets (npm registry, lockfile pinned) ------------------------------------------------------------
command -v npm >/dev/null || die "npm not found (on Debian: apt-get install npm)"
if [[ -f package-lock.json ]]; then
    npm_hash="$(hash_of package.json package-lock.json "$(node --version 2>/dev/null)")"
else
    npm_hash="$(hash_of package.json "$(node --version 2>/dev/null)")"
fi
npm_ran=0
if stamp_matches npm "$npm_hash" && [[ -d node_modules/bootstrap && -d node_modules/bootstrap-icons ]]; then
    log "node_modules up to date"
else
    if [[ -f package-lock.json ]]; then
        log "npm ci (package-lock.json)"
        npm ci --no-audit --no-fund --no-update-notifier --loglevel=error
    else
        log "npm install (no package-lock.json yet)"
        npm install --no-audit --no-fund --no-update-notifier --loglevel=error
    fi
    stamp_write npm "$npm_hash"
    npm_ran=1
fi

# Files served from static/vendor/; .map files go along because collectstatic's manifest storage follows
# the sourceMappingURL comments at the end of Bootstrap's files.
vendor_files=(
    "node_modules/bootstrap/dist/css/bootstrap.min.css:bootstrap/css/bootstrap.min.css"
    "node_modules/bootstrap/dist/css/bootstrap.min.css.map:bootstrap/css/bootstrap.min.css.map"
    "node_modules/bootstrap/dist/js/bootstrap.bundle.min.js:bootstrap/js/bootstrap.bundle.min.js"
    "node_modules/bootstrap/dist/js/bootstrap.bundle.min.js.map:bootstrap/js/bootstrap.bundle.min.js.map"
    "node_modules/bootstrap-icons/font/bootstrap-icons.min.css:bootstrap-icons/bootstrap-icons.min.css"
)
need_copy="$npm_ran"
for pair in "${vendor_files[@]}"; do
    [[ -f "$VENDOR/${pair#*:}" ]] || need_copy=1
done
compgen -G "$VENDOR/bootstrap-icons/fonts/*" >/dev/null || need_copy=1
if ((need_copy)); then
    log "copying Bootstrap and Bootstrap Icons into static/vendor/"
    rm -rf "$VENDOR/bootstrap" "$VENDOR/bootstrap-icons"
    for pair in "${vendor_files[@]}"; do
        src="${pair%%:*}"
        dst="$VENDOR/${pair#*:}"
        [[ -f "$src" ]] || die "$src not found after npm install"
        mkdir -p "$(dirname "$dst")"
        cp "$src" "$dst"
    done
    mkdir -p "$VENDOR/bootstrap-icons/fonts"
    cp node_modules/bootstrap-icons/font/fonts/* "$VENDOR/bootstrap-icons/fonts/"
else
    log "static/vendor/ up to date"
fi

# --- 5. checks for the test mode ----------------------------------------------------------------------------------
if [[ "$MODE" == test && ! -x /usr/bin/chromium ]]; then
    warn "/usr/bin/chromium is missing: browser tests (tests/e2e) will be skipped, or fail under CI"
fi

log "done"
