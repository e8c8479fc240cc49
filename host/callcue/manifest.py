"""What is flashed: firmware/manifest.py (MicroPython's manifest language) read on the host.

    files(manifest)  -> [(local source Path, path on the board)], in the manifest's order

The manifest is executed with stand-ins for the manifest functions that record files
instead of freezing them: package(path, files=None, base_path=".", opt=None) (every .py
under the folder, or the files named), module(path, base_path=".", opt=None) (one file
at the board's root), include(manifest) (another manifest, its paths relative to it),
metadata(...) (ignored). require() names a micropython-lib package, which the dongle does
not use: it is an error here, as is a file that does not exist. Paths are relative to
the manifest being read, as in MicroPython's tools/manifestfile.py.

Standard library only, so the Makefile can run it without the virtualenv:

    python3 host/callcue/manifest.py [MANIFEST]     # the local sources, one a line
"""

import os
import sys
from pathlib import Path

DEVICE_MANIFEST = Path(__file__).resolve().parents[2] / "firmware" / "manifest.py"


class ManifestError(Exception):
    """A manifest that names a missing file or something the host cannot copy."""


def default_manifest():
    """firmware/manifest.py of the installed `firmware` package (the work tree's in an
    editable install), else the one beside this checkout."""
    try:
        import firmware
    except ImportError:
        return DEVICE_MANIFEST
    return Path(firmware.__path__[0]) / "manifest.py"


def files(manifest=None):
    """[(local Path, board path)] of every file the manifest puts on the board."""
    out = []
    _read(Path(manifest or default_manifest()).resolve(), out)
    seen = set()
    for _, dst in out:
        if dst in seen:
            raise ManifestError("%s is listed twice" % dst)
        seen.add(dst)
    return out


def _read(manifest, out):
    here = manifest.parent

    def add(src, dst):
        src = Path(os.path.normpath(src))
        if not src.is_file():
            raise ManifestError("%s: no such file (named in %s)" % (src, manifest))
        out.append((src, dst))

    def package(package_path, files=None, base_path=".", opt=None):
        root = here / base_path / package_path
        if files is None:
            names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))
        else:
            names = list(files)
        for name in names:
            add(root / name, "%s/%s" % (package_path, name))

    def module(module_path, base_path=".", opt=None):
        add(here / base_path / module_path, Path(module_path).name)

    def include(manifest_path):
        path = here / manifest_path
        _read((path / "manifest.py" if path.is_dir() else path).resolve(), out)

    def require(name, **kwargs):
        raise ManifestError("%s: require(%r): the dongle uses no micropython-lib package"
                            % (manifest, name))

    def metadata(**kwargs):
        pass

    env = {"package": package, "module": module, "include": include, "require": require,
           "metadata": metadata, "options": None}
    try:
        code = compile(manifest.read_text(), str(manifest), "exec")
    except OSError as e:
        raise ManifestError("%s: %s" % (manifest, e.strerror)) from None
    exec(code, env)


if __name__ == "__main__":
    try:
        for src, _ in files(sys.argv[1] if len(sys.argv) > 1 else DEVICE_MANIFEST):
            print(src.relative_to(Path.cwd()) if src.is_relative_to(Path.cwd()) else src)
    except ManifestError as e:
        sys.exit("manifest: error: %s" % e)
