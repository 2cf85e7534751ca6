#!/bin/sh
# Writes a root filesystem tarball built from Debian's busybox-static:
# /bin/busybox with its applet links, /etc/passwd and /etc/group (root and
# an unprivileged "app" user), /tmp. Offline; no registry needed.
#   usage: make-busybox-image.sh OUT.tar [EXTRA_FILE:PATH_IN_IMAGE...]
set -eu
out=$1; shift
bb=/bin/busybox
[ -x "$bb" ] || { echo "make-busybox-image: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/root" "$dir/home/app" "$dir/usr/bin" "$dir/sbin"
cp "$bb" "$dir/bin/busybox"
for applet in $("$bb" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$dir/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$dir/etc/passwd"
printf 'root:x:0:\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n' > "$dir/etc/group"
chmod 1777 "$dir/tmp"
chown 1000:1000 "$dir/home/app"
for extra in "$@"; do
    src=${extra%%:*}; dst=${extra#*:}
    mkdir -p "$dir/$(dirname "$dst")"
    cp "$src" "$dir/$dst"
done
tar -C "$dir" --numeric-owner -cf "$out" .
