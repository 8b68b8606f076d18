#!/usr/bin/env bash
# Test infrastructure only: make a local `debian:bookworm-slim` image from Debian's packages
# (no registry can be pulled here), then the product's Dockerfile builds FROM it unchanged.
# The host's extra CA certificates go into this base only, because HTTPS from these machines
# passes a proxy with its own CA; the product's Dockerfile never carries them.
set -euo pipefail
tag="${1:-debian:bookworm-slim}"
if docker image inspect "$tag" >/dev/null 2>&1; then
  # an earlier import kept mktemp's 0700 on `/`: no user but root could run anything in it
  if [ "$(docker run --rm --entrypoint stat "$tag" -c %a /)" = "755" ]; then
    echo "base: $tag already present"
    exit 0
  fi
  echo "base: $tag has a private / (made before the chmod fix): importing it again"
fi
mirror="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)"
mirror="${mirror:-http://deb.debian.org/debian}"
root="$(mktemp -d /var/tmp/bookworm-XXXXXX)"
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"  # mktemp makes it 0700, and it becomes the image's `/`
echo "base: debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  cat /usr/local/share/ca-certificates/*.crt >> "$root/etc/ssl/certs/ca-certificates.crt" 2>/dev/null || true
fi
# Trim like the official slim image: apt lists, docs, man pages, locales.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* \
  "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} + 2>/dev/null || true
tar -C "$root" -c . | docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'CMD ["bash"]' - "$tag" >/dev/null
echo "base: imported $tag"
