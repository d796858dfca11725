"""The detector's pure-Python modules, compiled by Cython when ``make`` can: same code, ~2× faster.

Features, evidence, verdicts and reasons run for every expense, in Python loops over small
objects; compiled as they are (no type declarations, no second implementation), they take about
half the CPU time and give bit-identical results (``tests/test_compiled.py`` compares them on
long streams).

A compiled module is named after the SHA-256 of the source it was built from
(``models/_build/features_<hash>…so``), and a module only takes over from its own source when
that very source was built: an edited ``features.py`` runs as Python until the next ``make``,
never as stale machine code. Without Cython or a C compiler nothing is built and everything
runs as Python.

One thing behaves differently: the compiled functions read their module-level names from the
compiled module, so assigning ``models.features.SOME_CONSTANT = ...`` from outside (a test's
monkeypatch) does not reach them. Patch attributes of classes and instances, which are shared,
or pass values in.

    python -m models.compiled          # build what is missing (``make`` runs it)
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: builds do not take turns
    fcntl = None

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
BUILD = HERE / "_build"
MODULES = ("features", "evidence", "detector", "explain")  # models/<name>.py, run per expense


def digest(source: Path) -> str:
    return hashlib.sha256(source.read_bytes()).hexdigest()[:16]


def build_name(source: Path) -> str:
    """The compiled module's name for this exact source."""
    return f"{source.stem}_{digest(source)}"


def _built(name: str, build: Path) -> Path | None:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = build / f"{name}{suffix}"
        if path.exists():
            return path
    return None


def take_over(namespace: dict, build: Path = BUILD) -> bool:
    """Replace the names of a module that is running as Python with those of its compiled build.

    Called last in the module, as ``COMPILED = take_over(globals())``: True when the compiled
    build of this very source was found and loaded (its names are then the module's).
    """
    source = Path(namespace["__file__"])
    if namespace["__name__"] != f"models.{source.stem}":  # the build itself, or a copy run apart
        return False
    name = build_name(source)
    path = _built(name, build)
    if path is None:
        return False
    spec = importlib.util.spec_from_file_location(f"models._build.{name}", path)
    try:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while it runs
        spec.loader.exec_module(module)
    except Exception:  # a broken build (another Python, a missing symbol): Python serves
        sys.modules.pop(spec.name, None)
        log.warning("compiled %s could not be loaded; running it as Python", source.name)
        return False
    own = namespace["__name__"]
    for key, value in vars(module).items():
        if key.startswith("__") and key.endswith("__"):
            continue
        if isinstance(value, type) and value.__module__ in (spec.name, name):
            value.__module__ = own  # pickles and reprs name the module people import
        namespace[key] = value
    return True


def build(modules: tuple[str, ...] = MODULES, build: Path = BUILD) -> list[str]:
    """Compile each module whose current source has no build yet; remove outdated builds.

    Returns the names of the modules now built (new or already there). Two builds at once
    (two ``make`` runs) take turns on a lock; each compiles in a scratch folder of its own and
    moves the finished module into place, so an interrupted build leaves nothing half-written.
    """
    build.mkdir(exist_ok=True)
    if not all(importlib.util.find_spec(m) for m in ("Cython", "setuptools")):
        print("Cython is not installed: the detector runs as Python")
        return []
    with open(build / ".lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        ready = []
        for stem in modules:
            source = HERE / f"{stem}.py"
            name = build_name(source)
            for old in build.glob(f"{stem}_*"):
                if not old.name.startswith(name):
                    old.unlink(missing_ok=True)
            if _built(name, build) is None:
                try:
                    _compile(source, name, build)
                except Exception as exc:  # no C compiler or no Python headers, most likely
                    print(f"could not compile models/{stem}.py ({exc}): it runs as Python")
                    continue
                print(f"compiled models/_build/{name}")
            ready.append(name)
    return ready


def _compile(source: Path, name: str, build: Path) -> None:
    from Cython.Build import cythonize
    from setuptools import Distribution
    from setuptools.command.build_ext import build_ext

    with tempfile.TemporaryDirectory(dir=build, prefix=".scratch-") as scratch:
        copy = Path(scratch) / f"{name}.py"
        shutil.copyfile(source, copy)
        extensions = cythonize(
            [str(copy)],
            compiler_directives={"language_level": 3},
            build_dir=str(Path(scratch) / "c"),
            quiet=True,
        )
        # -ffp-contract=off: no fused multiply-adds, which would change results' last bits
        for extension in extensions:
            extension.extra_compile_args = ["-O2", "-ffp-contract=off"]
        command = build_ext(Distribution({"ext_modules": extensions}))
        command.build_lib = str(Path(scratch) / "lib")
        command.build_temp = str(Path(scratch) / "tmp")
        command.ensure_finalized()
        command.run()
        (output,) = command.get_outputs()
        os.replace(output, build / Path(output).name)  # whole, or not at all


if __name__ == "__main__":
    # The stamp `make` checks, only once every module is built: a compiler installed later
    # is used at the next `make`, not only after the next edit.
    if len(build()) == len(MODULES):
        (BUILD / ".built").touch()
