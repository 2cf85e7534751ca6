#!/usr/bin/python3
"""The guest for the pure-cgroup2 test: Debian's stock kernel and a minimal
initramfs holding berth.

The kernel is the package `linux-image-amd64` depends on (its candidate),
fetched with `apt-get download` and unpacked with `dpkg-deb -x`, never
installed (that would run the host's boot hooks). The .deb and the unpacked
tree are cached under the build directory, so reruns stay offline.

The initramfs is a cpio "newc" archive written here: busybox with its applet
links, berth (debug info stripped, every library `ldd` lists and the dynamic
loader at the same paths), berth-init, the kernel modules berth needs that
the kernel has as modules (overlayfs), a busybox image tarball to import, and
tests/vm/guest_init.sh as /init with tests/vm/guest_checks.sh beside it.

    usage: build_initramfs.py OUT.cpio [BUILD_DIR]   (prints the kernel's path)
"""
import lzma
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT_DIR = os.path.abspath(os.path.join(HERE, "../.."))

# What berth needs that Debian builds as modules; their dependencies are
# found from each module's "depends=" field (the package has no modules.dep,
# depmod writes it at install time) and loaded first. No virtio driver: the
# guest has no virtio device (initramfs, serial console on the 8250 driver,
# which is built in, and -nic none).
MODULES = ["overlay"]


class GuestError(Exception):
    """The guest could not be prepared (no package mirror, a tool missing)."""


def _run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise GuestError("%s failed (%d): %s" % (" ".join(args), r.returncode, (r.stderr or r.stdout).strip()))
    return r.stdout


def kernel_package():
    """(package, version): the candidate of what linux-image-amd64 depends on."""
    deps = _run(["apt-cache", "depends", "linux-image-amd64"])
    m = re.search(r"Depends:\s*(linux-image-[0-9][^\s]*-amd64)\b", deps)
    if not m:
        raise GuestError("apt-cache depends linux-image-amd64 names no kernel image:\n" + deps)
    pkg = m.group(1)
    policy = _run(["apt-cache", "policy", pkg])
    v = re.search(r"Candidate:\s*(\S+)", policy)
    if not v or v.group(1) == "(none)":
        raise GuestError("%s has no candidate version:\n%s" % (pkg, policy))
    return pkg, v.group(1)


def fetch_kernel(cache):
    """Downloads and unpacks the kernel once; returns (vmlinuz, modules dir, kernel release)."""
    os.makedirs(cache, exist_ok=True)
    pkg, version = kernel_package()
    deb = os.path.join(cache, "%s_%s_amd64.deb" % (pkg, version.replace(":", "%3a")))
    if not os.path.exists(deb):
        # apt-get download writes into the current directory; a failed fetch leaves nothing behind.
        r = subprocess.run(["apt-get", "download", "-q", "%s=%s" % (pkg, version)], cwd=cache,
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0 or not os.path.exists(deb):
            raise GuestError("apt-get download %s=%s failed (is a Debian mirror reachable?): %s"
                             % (pkg, version, (r.stderr or r.stdout).strip()))
    tree = os.path.join(cache, "%s_%s" % (pkg, version))
    # Kernels the mirror has since replaced.
    for old in os.listdir(cache):
        p = os.path.join(cache, old)
        if old.startswith("linux-image-") and p not in (deb, tree):
            shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
    done = os.path.join(tree, ".unpacked")
    if not os.path.exists(done):
        shutil.rmtree(tree, ignore_errors=True)
        _run(["dpkg-deb", "-x", deb, tree])
        open(done, "w").close()
    release = pkg[len("linux-image-"):]
    vmlinuz = os.path.join(tree, "boot", "vmlinuz-" + release)
    mods = os.path.join(tree, "lib", "modules", release)
    if not os.path.exists(vmlinuz) or not os.path.isdir(mods):
        raise GuestError("%s holds no vmlinuz-%s or lib/modules/%s" % (deb, release, release))
    return vmlinuz, mods, release


def module_data(path):
    """A module's ELF image: Debian compresses them from Linux 6.6 on (.ko.xz),
    and busybox insmod takes plain ones only, so they are unpacked here."""
    if path.endswith(".xz"):
        with lzma.open(path) as f:
            return f.read()
    if path.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    return _read(path)


def _modinfo(path, field):
    data = module_data(path)
    m = re.search(rb"\x00" + field.encode() + rb"=([^\x00]*)\x00", data)
    return m.group(1).decode() if m else ""


def module_files(mods, names):
    """The .ko files of `names` and of everything they depend on, dependencies first."""
    by_name = {}
    for dirpath, _, files in os.walk(os.path.join(mods, "kernel")):
        for f in files:
            for ext in (".ko", ".ko.xz", ".ko.zst"):
                if f.endswith(ext):
                    by_name[f[:-len(ext)].replace("-", "_")] = os.path.join(dirpath, f)
    order = []

    def visit(name):
        name = name.replace("-", "_")
        if name in order:
            return
        if name not in by_name:
            raise GuestError("kernel module %s not found under %s" % (name, mods))
        path = by_name[name]
        for dep in filter(None, _modinfo(path, "depends").split(",")):
            visit(dep)
        order.append(name)

    for n in names:
        # A module built into this kernel needs no loading.
        if re.search(r"/%s\.ko$" % re.escape(n), open(os.path.join(mods, "modules.builtin")).read(), re.M):
            continue
        visit(n)
    return [by_name[n] for n in order]


def ldd_paths(binary):
    """Every library the dynamic loader maps for `binary`, and the loader, as ldd names them."""
    out = _run(["ldd", binary])
    paths = []
    for line in out.splitlines():
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m:
            paths.append(m.group(1))
    if not any("ld-linux" in p for p in paths):
        raise GuestError("ldd %s names no dynamic loader:\n%s" % (binary, out))
    return paths


class Cpio:
    """A cpio "newc" archive, as the kernel unpacks an initramfs
    (Documentation/driver-api/early-userspace/buffer-format.rst)."""

    def __init__(self, f):
        self.f = f
        self.ino = 1
        self.dirs = set()

    def _entry(self, name, mode, data=b"", rdev=(0, 0)):
        name = name.lstrip("/")
        fields = [self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0]
        self.ino += 1
        hdr = b"070701" + b"".join(b"%08X" % v for v in fields) + name.encode() + b"\x00"
        self.f.write(hdr + b"\x00" * (-len(hdr) % 4))
        self.f.write(data + b"\x00" * (-len(data) % 4))

    def dir(self, path, mode=0o755):
        path = "/" + path.strip("/")
        if path == "/" or path in self.dirs:
            return
        self.dir(os.path.dirname(path))
        self.dirs.add(path)
        self._entry(path, stat.S_IFDIR | mode)

    def file(self, path, data, mode=0o755):
        self.dir(os.path.dirname(path))
        self._entry(path, stat.S_IFREG | mode, data)

    def symlink(self, path, target):
        self.dir(os.path.dirname(path))
        self._entry(path, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, path, major, minor, mode=0o600):
        self.dir(os.path.dirname(path))
        self._entry(path, stat.S_IFCHR | mode, rdev=(major, minor))

    def close(self):
        self._entry("TRAILER!!!", 0)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _stripped(path, tmp):
    out = os.path.join(tmp, os.path.basename(path))
    _run(["strip", "--strip-debug", "-o", out, path])
    return _read(out)


def build(out, berth, berth_init, busybox_tar, mods, release):
    """Writes the initramfs to `out`."""
    with tempfile.TemporaryDirectory() as tmp, open(out, "wb") as f:
        c = Cpio(f)
        for d in ("proc", "sys", "dev", "run", "tmp", "newroot", "etc", "var/lib", "sbin", "usr/bin"):
            c.dir(d)
        c.dir("tmp", 0o1777)
        # The kernel opens /dev/console for /init before anything is mounted.
        c.chardev("/dev/console", 5, 1)
        c.chardev("/dev/null", 1, 3, 0o666)
        c.file("/bin/busybox", _read("/bin/busybox"))
        for applet in _run(["/bin/busybox", "--list"]).split():
            if applet != "busybox":
                c.symlink("/bin/" + applet, "busybox")
        c.file("/etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644)
        c.file("/etc/group", b"root:x:0:\n", 0o644)
        c.file("/usr/local/bin/berth", _stripped(berth, tmp))
        c.file("/usr/local/bin/berth-init", _stripped(berth_init, tmp))
        for lib in ldd_paths(berth):
            c.file(lib, _read(lib))
        # /etc/modules.order: the .ko files to insmod, dependencies first.
        order = []
        for ko in module_files(mods, MODULES):
            rel = re.sub(r"\.ko\.(xz|zst)$", ".ko", os.path.relpath(ko, mods))
            order.append("/lib/modules/%s/%s" % (release, rel))
            c.file(order[-1], module_data(ko), 0o644)
        c.file("/etc/modules.order", "".join(p + "\n" for p in order).encode(), 0o644)
        c.file("/busybox.tar", _read(busybox_tar), 0o644)
        c.file("/init", _read(os.path.join(HERE, "guest_init.sh")))
        c.file("/checks.sh", _read(os.path.join(HERE, "guest_checks.sh")))
        c.close()


def prepare(build_dir, out, probe=None):
    """Fetches the kernel (cached in build_dir/vm-cache), writes the initramfs
    to `out` from the binaries in build_dir; returns the kernel's path."""
    sys.path.insert(0, os.path.join(ROOT_DIR, "tests/e2e"))
    from conftest import make_busybox_tar
    vmlinuz, mods, release = fetch_kernel(os.path.join(build_dir, "vm-cache"))
    probe = probe or os.path.join(build_dir, "tests/berth_probe")
    with tempfile.TemporaryDirectory() as tmp:
        tar = make_busybox_tar(os.path.join(tmp, "busybox.tar"), [(probe, "/probe")])
        build(out, os.path.join(build_dir, "berth"), os.path.join(build_dir, "berth-init"), tar, mods, release)
    return vmlinuz


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT_DIR, "build")
    print(prepare(build_dir, sys.argv[1]))


if __name__ == "__main__":
    main()
