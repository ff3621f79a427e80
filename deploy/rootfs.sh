#!/usr/bin/env bash
# Assembles the runtime image's whole filesystem under DEST: the static binary, the CA bundle, the
# time zone database and an empty /tmp. Used by deploy/Dockerfile's build stage and by
# `make image-local` (which builds the binary on this machine), so both images hold the same files.
#
#   deploy/rootfs.sh BINARY DEST
set -euo pipefail
bin=${1:?usage: rootfs.sh BINARY DEST}
dest=${2:?usage: rootfs.sh BINARY DEST}
ca=/etc/ssl/certs/ca-certificates.crt
zoneinfo=/usr/share/zoneinfo

# A static binary only: scratch has no libc or dynamic loader. CGO_ENABLED=0 gives one.
if ! readelf -h "$bin" >/dev/null 2>&1; then
	echo "rootfs.sh: $bin is not an ELF binary (or readelf, from binutils, is missing)" >&2
	exit 1
fi
if readelf -l "$bin" | grep -q 'program interpreter'; then
	echo "rootfs.sh: $bin is dynamically linked; build it with CGO_ENABLED=0" >&2
	exit 1
fi
for f in "$ca" "$zoneinfo/Asia/Seoul" "$zoneinfo/UTC"; do
	[[ -e $f ]] || { echo "rootfs.sh: $f missing (install ca-certificates and tzdata)" >&2; exit 1; }
done

rm -rf "$dest"
mkdir -p "$dest/usr/local/bin" "$dest/etc/ssl/certs" "$dest/usr/share" "$dest/tmp"
install -m 0755 "$bin" "$dest/usr/local/bin/distribution"
install -m 0644 "$ca" "$dest/etc/ssl/certs/ca-certificates.crt"
cp -rL "$zoneinfo" "$dest/usr/share/zoneinfo"
chmod 1777 "$dest/tmp"
# Numeric user 65532 needs no /etc/passwd; this one names it for tools that look.
printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin\n' >"$dest/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$dest/etc/group"
