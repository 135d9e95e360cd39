#!/usr/bin/env bash
# Local stand-ins for the public images compose.yaml names (python:3.11-slim, postgres:16,
# edoburu/pgbouncer:latest) for a machine whose Docker engine cannot reach Docker Hub: Debian
# bookworm (debootstrap from the Debian mirror) with this machine's CPython 3.11 in /usr/local,
# as in the official python image, and Debian's PostgreSQL 15 and PgBouncer behind entrypoints
# that read the same environment variables as the official images. Images already present
# (pulled or built before) are kept.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
images=(python:3.11-slim postgres:16 edoburu/pgbouncer:latest)
for image in "${images[@]}"; do
  docker image inspect "$image" >/dev/null 2>&1 || timeout 120 docker pull -q "$image" >/dev/null 2>&1 || break
done
if docker image inspect "${images[@]}" >/dev/null 2>&1; then
  exit 0
fi
echo "Docker Hub's images are out of reach: building local stand-ins"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
debootstrap --variant=minbase \
  --include=ca-certificates,libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,libreadline8,libncursesw6,libuuid1,libgdbm6,zlib1g,libexpat1,libnsl2,libtirpc3,postgresql-15,postgresql-client-15,pgbouncer \
  bookworm "$rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" ||
  { tail -20 "$work/debootstrap.log"; exit 1; }

# the cluster Debian's package made inside the chroot (on whatever port was free here) would
# steer psql and pg_isready away from the server the entrypoint starts
rm -rf "$rootfs/etc/postgresql/15" "$rootfs/var/lib/postgresql/15"

python_home="$(python3.11 -c 'import sys; print(sys.base_prefix)')"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/usr/local/lib"
cp -a "$python_home/bin/python3.11" "$rootfs/usr/local/bin/"
cp -a "$python_home"/lib/libpython3.11.so* "$rootfs/usr/local/lib/"
tar -C "$python_home/lib" --exclude=python3.11/site-packages --exclude=python3.11/test \
  --exclude='__pycache__' -cf - python3.11 | tar -C "$rootfs/usr/local/lib" -xf -
mkdir -p "$rootfs/usr/local/lib/python3.11/site-packages"
ln -sf python3.11 "$rootfs/usr/local/bin/python3"
ln -sf python3.11 "$rootfs/usr/local/bin/python"
chroot "$rootfs" /sbin/ldconfig
chroot "$rootfs" /usr/local/bin/python3 -m ensurepip --default-pip >/dev/null
ln -sf pip3 "$rootfs/usr/local/bin/pip"
chroot "$rootfs" /usr/local/bin/python -c "import ssl, sqlite3, ctypes, uuid; print('stand-in python ok')"
# this machine's extra certificate authorities (an egress proxy's, say), so pip in the image
# reaches PyPI the way pip on the host does
cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
chroot "$rootfs" update-ca-certificates >/dev/null
rm -rf "$rootfs/var/cache/apt/archives"/*.deb "$rootfs/var/lib/apt/lists"/*
tar -C "$rootfs" -c . | docker import -c 'ENV LANG=C.UTF-8' \
  -c 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' -c 'CMD ["python3"]' - hatchnb-standin/base

build() {  # tag, entrypoint script or "-"
  local context="$work/$1"
  mkdir -p "$context"
  {
    echo "FROM hatchnb-standin/base"
    if [ "$2" != "-" ]; then
      cp "$here/$2" "$context/entrypoint.sh"
      echo "COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh"
      echo 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]'
      echo "CMD []"
    fi
  } >"$context/Dockerfile"
  docker build -q -t "$1" "$context" >/dev/null
  echo "stand-in $1 built"
}
build python:3.11-slim -
build postgres:16 postgres-entrypoint.sh
build edoburu/pgbouncer:latest pgbouncer-entrypoint.sh
