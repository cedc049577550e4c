#!/usr/bin/env bash
# Build the fastalived Debian package:  packaging/build-deb.sh [OUTPUT_DIR]   (default: ./dist)
#
# The package carries a private Python environment in /usr/lib/fastalived (fastalived with its
# compiled codec, plus the uvloop, httptools and pyroute2 releases it needs, newer than Debian 12's)
# run by Debian's python3.11, /usr/sbin/fastalived, the systemd unit from contrib/systemd (installed
# disabled), /etc/default/fastalived, the man pages and the docs. Built with dpkg-deb, no debhelper.
#
# Needs python3.11 python3-venv python3-dev gcc binutils dpkg-dev git, and a pip index with
# setuptools, wheel, Cython and the runtime dependencies. The source tree is never written to: the
# files git knows (tracked or not ignored) are copied to a temporary directory and built there.
# Prints the path of the .deb.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
OUT=$(realpath -m "${1:-$ROOT/dist}")
PYTHON=/usr/bin/python3.11
PREFIX=/usr/lib/fastalived
DEB="$HERE/deb"

die() { echo "build-deb: $*" >&2; exit 1; }

UPSTREAM=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/pyproject.toml" | head -n1)
VERSION=$(dpkg-parsechangelog -l "$DEB/changelog" -S Version)
[ "${VERSION%-*}" = "$UPSTREAM" ] || die "packaging/deb/changelog is at $VERSION but pyproject.toml at $UPSTREAM"
ARCH=$(dpkg --print-architecture)
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$DEB/changelog" -S Timestamp)
export SOURCE_DATE_EPOCH
PYVER=$("$PYTHON" -c 'import platform; print(platform.python_version())')

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fastalived-deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
STAGE="$WORK/stage"
ENV_DIR="$STAGE$PREFIX"
umask 022

copy_sources() {
    mkdir "$WORK/src"
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' file; do [ -f "$file" ] && printf '%s\0' "$file"; done |
        tar --null -T - -cf -) | tar -xf - -C "$WORK/src"
}

build_wheel() (
    "$PYTHON" -m venv "$WORK/build-env"
    "$WORK/build-env/bin/pip" install -q --disable-pip-version-check --upgrade "setuptools>=77" wheel "Cython>=3.0"
    # Debian's hardening flags; run from the sources so the temporary path is mapped out of the objects
    cd "$WORK/src"
    eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)"
    FASTALIVED_REQUIRE_EXTENSIONS=1 "$WORK/build-env/bin/pip" wheel -q --disable-pip-version-check \
        --no-deps --no-build-isolation -w "$WORK/wheels" .
)

# The environment is made in the staging tree and moved by dpkg: a venv only knows its own location
# through bin/python3's path, so everything that records the staging path is dropped or rewritten.
install_environment() {
    "$PYTHON" -m venv --without-pip "$ENV_DIR"
    "$WORK/build-env/bin/pip" --python "$ENV_DIR/bin/python3" install -q --disable-pip-version-check \
        --no-compile "$WORK"/wheels/fastalived-*.whl
    find "$ENV_DIR/bin" -mindepth 1 ! -name 'python*' -delete
    rm -f "$ENV_DIR"/lib/python3*/site-packages/*.dist-info/direct_url.json
    # Cython sources ride along in the wheels; nothing reads them at run time.
    find "$ENV_DIR" \( -name '*.c' -o -name '*.pyx' -o -name '*.pxd' \) -delete
    find "$ENV_DIR" -type d -empty -delete  # include/ and what the line above emptied
    # Debian policy 10.5: a link inside one top-level directory (/usr) is relative.
    local link
    for link in "$ENV_DIR"/bin/*; do
        if [ -L "$link" ] && [[ $(readlink "$link") == /* ]]; then
            ln -sfn "$(realpath -m --relative-to="$PREFIX/bin" "$(readlink "$link")")" "$link"
        fi
    done
    printf 'home = /usr/bin\ninclude-system-site-packages = false\nversion = %s\n' "$PYVER" >"$ENV_DIR/pyvenv.cfg"
    find "$ENV_DIR" -name '*.so' -exec strip --strip-unneeded --remove-section=.comment --remove-section=.note {} +
    find "$ENV_DIR" -type f -exec chmod 0644 {} +
    if grep -rlF "$WORK" "$ENV_DIR" >/dev/null; then
        die "the environment still refers to the build directory: $(grep -rlF "$WORK" "$ENV_DIR" | head -n3)"
    fi
}

install_files() {
    install -D -m 0755 "$DEB/fastalived" "$STAGE/usr/sbin/fastalived"
    install -d "$STAGE/lib/systemd/system"
    # The package's binary path, and its man pages (which systemd-analyze verify wants installed)
    sed -e 's#^ExecStart=/usr/bin/fastalived #ExecStart=/usr/sbin/fastalived #' \
        -e 's#^Documentation=#Documentation=man:fastalived(8) man:fastalived.conf(5) #' \
        "$ROOT/contrib/systemd/fastalived.service" >"$STAGE/lib/systemd/system/fastalived.service"
    grep -q '^ExecStart=/usr/sbin/fastalived ' "$STAGE/lib/systemd/system/fastalived.service" ||
        die "contrib/systemd/fastalived.service: ExecStart no longer starts /usr/bin/fastalived"
    install -D -m 0644 "$DEB/default" "$STAGE/etc/default/fastalived"
    install -D -m 0644 "$DEB/lintian-overrides" "$STAGE/usr/share/lintian/overrides/fastalived"
    install -D -m 0644 "$ROOT/man/fastalived.8" "$STAGE/usr/share/man/man8/fastalived.8"
    install -D -m 0644 "$ROOT/man/fastalived.conf.5" "$STAGE/usr/share/man/man5/fastalived.conf.5"
    local doc="$STAGE/usr/share/doc/fastalived"
    install -D -m 0644 "$DEB/copyright" "$doc/copyright"
    install -D -m 0644 "$DEB/changelog" "$doc/changelog.Debian"
    install -m 0644 "$ROOT/README.md" "$ROOT/docs/migrating-from-keepalived.md" "$doc/"
    [ ! -f "$ROOT/docs/keepalived-compat.md" ] || install -m 0644 "$ROOT/docs/keepalived-compat.md" "$doc/"
    install -D -m 0644 -t "$doc/examples" "$ROOT/examples/keepalived.conf" \
        "$ROOT/contrib/prometheus/fastalived-alerts.yml" "$ROOT/contrib/grafana/fastalived-dashboard.json"
    find "$STAGE/usr/share/man" "$doc/changelog.Debian" -type f -exec gzip -9n {} +
}

shlib_depends() {
    mkdir -p "$WORK/shlibs/debian"
    printf 'Source: fastalived\n\nPackage: fastalived\nArchitecture: any\n' >"$WORK/shlibs/debian/control"
    local args=()
    while IFS= read -r -d '' lib; do args+=("-e$lib"); done < <(find "$ENV_DIR" -name '*.so' -print0)
    # Extension modules take the interpreter's symbols from the process, not from a library.
    (cd "$WORK/shlibs" && dpkg-shlibdeps -O --warnings=0 "${args[@]}") | sed -n 's/^shlibs:Depends=//p'
}

write_control() {
    local size
    size=$(du -sk --apparent-size "$STAGE" | cut -f1)
    install -d "$STAGE/DEBIAN"
    sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" -e "s/@INSTALLED_SIZE@/$size/" \
        -e "s/@PYTHON@/python${PYVER%.*}/" -e "s/@SHLIBS@/$(shlib_depends)/" "$DEB/control.in" >"$STAGE/DEBIAN/control"
    install -m 0755 "$DEB/postinst" "$DEB/prerm" "$DEB/postrm" "$STAGE/DEBIAN/"
    echo /etc/default/fastalived >"$STAGE/DEBIAN/conffiles"
    (cd "$STAGE" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' |
        LC_ALL=C sort -z | xargs -0 md5sum) >"$STAGE/DEBIAN/md5sums"
    chmod 0644 "$STAGE/DEBIAN/control" "$STAGE/DEBIAN/conffiles" "$STAGE/DEBIAN/md5sums"
}

copy_sources
build_wheel
install_environment
install_files
write_control
find "$STAGE" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$OUT"
PACKAGE="$OUT/fastalived_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$PACKAGE" >/dev/null
echo "$PACKAGE"
