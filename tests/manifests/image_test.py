#!/usr/bin/env python3
"""The offline container image (suite 'manifests', issue 12).

  image_test.py SOURCE_DIR BUILD_DIR

Builds the OCI image with scripts/build-image.sh from the binaries in
BUILD_DIR (herald-agent and herald-allocator), unpacks it with umoci and
runs, chrooted into the unpacked root filesystem:
  herald-agent --version, herald-allocator --version, gobgp --version.
It checks the image configuration (non-root user, command), that every
library the binaries need resolves inside the image, and that the packages
taken from the binaries are all in image/runtime-packages.txt (the list the
Containerfile installs, and the Containerfile names it). The .debs are cached in BUILD_DIR/image-debs, so
only the first run downloads. Needs root (chroot), umoci, dpkg-deb, apt-get:
without them it skips (77); under CI=true that is a failure.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from checks import check, skip as skip_test, verdict

SOURCE, BUILD = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])



def run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)


def main():
    if os.geteuid() != 0:
        return skip_test("image_test", "needs root (chroot, file ownership in the image layer)")
    for tool in ("umoci", "dpkg-deb", "apt-get", "chroot", "unshare"):
        if shutil.which(tool) is None:
            return skip_test("image_test", f"{tool} is missing (scripts/setup.sh installs umoci)")
    binaries = [os.path.join(BUILD, "agent", "herald-agent"), os.path.join(BUILD, "allocator", "herald-allocator")]
    missing = [b for b in binaries if not os.access(b, os.X_OK)]
    if not check(not missing, f"the image's binaries are built (meson builds them for this test): missing {missing}"):
        return 1

    out = tempfile.mkdtemp(prefix="herald-image-test-")
    env = dict(os.environ, HERALD_DEB_CACHE=os.path.join(BUILD, "image-debs"), HERALD_IMAGE_TAG="test")
    try:
        t0 = time.monotonic()
        r = run("bash", os.path.join(SOURCE, "scripts", "build-image.sh"), out, *binaries, env=env, timeout=600)
        build_s = time.monotonic() - t0
        if r.returncode == 5:
            return skip_test("image_test", "the Debian archive is not reachable for apt-get download: " + r.stderr.strip())
        if not check(r.returncode == 0, f"build-image.sh: {r.stdout}{r.stderr}"):
            return 1
        layer_bytes = sum(os.path.getsize(os.path.join(d, f))
                          for d, _, fs in os.walk(os.path.join(out, "oci", "blobs")) for f in fs)
        print(f"image_test: built in {build_s:.1f} s, OCI layout {layer_bytes / 1e6:.1f} MB")

        bundle = os.path.join(out, "unpacked")
        r = run("umoci", "unpack", "--image", os.path.join(out, "oci") + ":test", bundle)
        if not check(r.returncode == 0, "umoci unpack: " + r.stderr):
            return 1
        rootfs = os.path.join(bundle, "rootfs")
        with open(os.path.join(bundle, "config.json")) as f:
            config = json.load(f)
        check(config["process"]["user"].get("uid") == 65532, f"image user is non-root: {config['process']['user']}")
        check(config["process"]["args"] == ["/usr/bin/herald-agent"], f"image command: {config['process']['args']}")

        # As a container runtime does, give the process its own /proc (in a
        # private mount and pid namespace, so nothing outlives the run and
        # rmtree never meets a mounted /proc): the sanitizer build CI tests
        # reads /proc/self/exe and /proc/self/maps and fails without them.
        os.makedirs(os.path.join(rootfs, "proc"), exist_ok=True)  # runc creates the mount point too
        for b in binaries:
            name = os.path.basename(b)
            r = run("unshare", "--mount", "--pid", "--fork", "--mount-proc=" + os.path.join(rootfs, "proc"),
                    "chroot", rootfs, "/usr/bin/" + name, "--version")
            check(r.returncode == 0 and r.stdout.startswith(name + " "),
                  f"chroot {name} --version: {(r.stdout + r.stderr).strip()[:300]}")
            # ldd from the host, on the image's loader and libraries only.
            r = run("chroot", rootfs, "/lib64/ld-linux-x86-64.so.2", "--list", "/usr/bin/" + name)
            check(r.returncode == 0 and "not found" not in r.stdout, f"{name}: every library resolves in the image")
        r = run("chroot", rootfs, "/usr/bin/gobgp", "--version")
        check(r.returncode == 0 and "gobgp version" in r.stdout, f"chroot gobgp --version: {r.stdout.strip()}")

        # The Containerfile (not buildable here: no registry) installs the same list and binaries.
        with open(os.path.join(SOURCE, "Containerfile")) as f:
            containerfile = f.read()
        check(all(s in containerfile for s in ("image/runtime-packages.txt", "agent/herald-agent",
                                               "allocator/herald-allocator", "/usr/bin/gobgp", "debian:12")),
              "the Containerfile installs runtime-packages.txt, both binaries and gobgp on Debian 12")
        with open(os.path.join(SOURCE, "image", "runtime-packages.txt")) as f:
            listed = {ln.strip() for ln in f if ln.strip() and not ln.startswith("#")}
        with open(os.path.join(out, "packages")) as f:
            used = {ln.split()[0] for ln in f if ln.strip()} - {"gobgpd"}
        sanitizer_runtimes = {p for p in used if p.startswith(("libasan", "libubsan", "liblsan", "libtsan"))}
        if sanitizer_runtimes:
            print(f"image_test: sanitizer build: {sorted(sanitizer_runtimes)} are in this test image only")
        used -= sanitizer_runtimes
        check(used <= listed, f"image/runtime-packages.txt covers the libraries: missing {sorted(used - listed)}")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return verdict()


if __name__ == "__main__":
    sys.exit(main())
