#!/usr/bin/env bash
# Builds Herald's container image as an OCI layout without a container
# registry or daemon (issue 12): the root filesystem is assembled from the
# Debian 12 packages of the shared libraries the binaries link (found with
# ldd, the host's installed versions, fetched with `apt-get download` unless
# cached), the gobgp client from gobgpd, and the binaries themselves; umoci
# turns it into a one-layer image. The Containerfile builds the same image
# where a registry is reachable.
#
#   scripts/build-image.sh OUT_DIR BINARY...
#
# OUT_DIR/oci is the OCI layout (image tag herald:$HERALD_IMAGE_TAG, default
# the project version); OUT_DIR/rootfs the assembled tree; OUT_DIR/packages
# the packages used. .debs are cached in $HERALD_DEB_CACHE (default
# OUT_DIR/debs), then looked for in /var/cache/apt/archives. Needs root (file
# ownership in the layer), dpkg-deb, apt-get and umoci (scripts/setup.sh).
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 OUT_DIR BINARY..." >&2
  exit 2
fi
out=$(realpath -m "$1")
shift
tag=${HERALD_IMAGE_TAG:-$(sed -n "s/^  version: '\(.*\)',$/\1/p" "$(dirname "$0")/../meson.build")}
cache=${HERALD_DEB_CACHE:-$out/debs}
arch=$(dpkg --print-architecture)
for tool in umoci dpkg-deb apt-get ldd; do
  command -v "$tool" >/dev/null || { echo "build-image: $tool is missing (scripts/setup.sh installs it)" >&2; exit 3; }
done

# The packages owning every shared library the binaries load, in one dpkg
# query (dpkg knows the unmerged /lib path on merged-/usr hosts, so ask for
# each spelling).
declare -A pkgs=([libc6]=1 [gobgpd]=1)
mapfile -t libs < <(for bin in "$@"; do
  [ -x "$bin" ] || { echo "build-image: $bin is not an executable" >&2; exit 2; }
  ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
done | sort -u)
declare -A owner=()
while IFS= read -r line; do
  owner[${line#*: }]=${line%%:*}
done < <(for l in "${libs[@]}"; do printf '%s\n%s\n%s\n' "$l" "$(readlink -f "$l")" "/usr${l#/usr}"; done |
         sort -u | xargs dpkg -S 2>/dev/null || true)
for l in "${libs[@]}"; do
  p=${owner[$l]:-${owner[$(readlink -f "$l")]:-${owner[/usr${l#/usr}]:-}}}
  [ -n "$p" ] || { echo "build-image: no Debian package owns $l" >&2; exit 4; }
  pkgs[$p]=1
done

# The host's version of each package, else (the archive moved on) the
# archive's current one: same soname, same ABI within a Debian release.
rm -rf "$out/rootfs" "$out/oci" "$out/bundle"
mkdir -p "$out/rootfs" "$cache"
want=()
for p in $(printf '%s\n' "${!pkgs[@]}" | sort); do
  ver=$(dpkg-query -W -f='${Version}' "$p")
  file="${p}_${ver//:/%3a}_$(dpkg-query -W -f='${Architecture}' "$p").deb"
  if ls "$cache/${p}_"*.deb >/dev/null 2>&1; then continue; fi
  if [ -f "/var/cache/apt/archives/$file" ]; then cp "/var/cache/apt/archives/$file" "$cache/"; continue; fi
  want+=("$p=$ver")
done
if [ ${#want[@]} -gt 0 ]; then
  (cd "$cache" && apt-get download -q=2 "${want[@]}" 2>/dev/null) || true
  for pv in "${want[@]}"; do
    p=${pv%%=*}
    ls "$cache/${p}_"*.deb >/dev/null 2>&1 && continue
    if ls "/var/cache/apt/archives/${p}_"*".deb" >/dev/null 2>&1; then
      cp "$(ls -v "/var/cache/apt/archives/${p}_"*.deb | tail -n1)" "$cache/"
    else
      (cd "$cache" && apt-get download -q=2 "$p" 2>/dev/null) ||
        { echo "build-image: cannot download $p (is the Debian archive reachable?)" >&2; exit 5; }
    fi
  done
fi
: > "$out/packages"
for p in $(printf '%s\n' "${!pkgs[@]}" | sort); do
  deb=$(ls -v "$cache/${p}_"*.deb | tail -n1)
  echo "$p $(dpkg-deb -f "$deb" Version) $(basename "$deb")" >> "$out/packages"
done

# Debian 12's merged /usr: /lib, /bin, /sbin, /lib64 are links into /usr, and
# tar keeps them while the packages' ./lib/... entries land under /usr/lib.
rfs=$out/rootfs
mkdir -p "$rfs"/usr/{bin,sbin,lib,lib64} "$rfs"/{etc,tmp,var/run,run}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$rfs/$d"; done
chmod 1777 "$rfs/tmp"
while read -r p _ file; do
  deb=$cache/$file
  if [ "$p" = gobgpd ]; then
    # Only the CLI: the daemon, its unit and docs stay out.
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$rfs" --keep-directory-symlink ./usr/bin/gobgp
  else
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$rfs" --keep-directory-symlink
  fi
done < "$out/packages"
rm -rf "$rfs"/usr/share/{doc,man,info,lintian,locale} "$rfs"/etc/init.d
for bin in "$@"; do install -s -m 0755 "$bin" "$rfs/usr/bin/"; done  # stripped: debug info stays in the build
cat > "$rfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/usr/sbin/nologin
nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin
PASSWD
cat > "$rfs/etc/group" <<'GROUP'
root:x:0:
nonroot:x:65532:
GROUP
echo "hosts: files dns" > "$rfs/etc/nsswitch.conf"
# The loader's cache, so the image needs no ldconfig of its own.
ldconfig -r "$rfs" 2>/dev/null || true

# One layer, the configuration Kubernetes reads (the manifests set the command).
umoci init --layout "$out/oci"
umoci new --image "$out/oci:$tag"
umoci unpack --image "$out/oci:$tag" "$out/bundle" >/dev/null
cp -a "$rfs/." "$out/bundle/rootfs/"
umoci repack --image "$out/oci:$tag" "$out/bundle"
rm -rf "$out/bundle"
umoci config --image "$out/oci:$tag" \
  --author "Herald" \
  --config.user 65532:65532 \
  --config.workingdir / \
  --config.env PATH=/usr/sbin:/usr/bin \
  --config.cmd /usr/bin/herald-agent \
  --config.label "org.opencontainers.image.title=herald" \
  --config.label "org.opencontainers.image.version=$tag" \
  --config.label "org.opencontainers.image.base.name=debian:12 (assembled from packages)" \
  --architecture "$arch" --os linux
umoci gc --layout "$out/oci"
echo "build-image: $out/oci:$tag from $(wc -l < "$out/packages") packages and $# binaries"
