"""Builds the `escalon` Python package with CMake: the compiled module `escalon._escalon` from
bindings/python, next to the package's `__init__.py`, stubs and `py.typed`.

    pip install --no-build-isolation .

Environment:
    ESCALON_CMAKE_BUILD_DIR  an existing CMake build folder to build in (and reuse what it has
                             built) instead of a fresh one under setuptools' build folder
    CMAKE_BUILD_PARALLEL_LEVEL  parallel compile jobs (default: all cores)
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).resolve().parent


def project_version() -> str:
    # The one version (CHANGELOG.md): project(escalon VERSION ...) in CMakeLists.txt.
    text = (ROOT / "CMakeLists.txt").read_text()
    match = re.search(r"project\(escalon VERSION (\d+\.\d+\.\d+)", text)
    if not match:
        sys.exit("setup.py: no `project(escalon VERSION x.y.z)` in CMakeLists.txt")
    return match.group(1)


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        if shutil.which("cmake") is None:
            sys.exit("setup.py: cmake is needed to build Escalon (apt-get install cmake; see README, Install)")
        build = pathlib.Path(os.environ.get("ESCALON_CMAKE_BUILD_DIR") or pathlib.Path(self.build_temp, "cmake")).resolve()
        # A configured folder is built as it is (its options, its compiler): configuring it again
        # with other options would rebuild everything in it.
        if not (build / "CMakeCache.txt").exists():
            configure = [
                "cmake", "-S", str(ROOT), "-B", str(build),
                "-DCMAKE_BUILD_TYPE=Release",
                "-DESCALON_BUILD_PYTHON=ON",
                "-DESCALON_BUILD_TESTS=OFF", "-DESCALON_BUILD_EXAMPLES=OFF", "-DESCALON_BUILD_BENCH=OFF",
                f"-DPython3_EXECUTABLE={sys.executable}",
            ]
            if shutil.which("ninja"):
                configure += ["-G", "Ninja"]
            subprocess.run(configure, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 1)
        subprocess.run(["cmake", "--build", str(build), "--target", "escalon_python", "--parallel", jobs], check=True)
        built = sorted((build / "python" / "escalon").glob("_escalon*.so"))
        if not built:
            sys.exit(f"setup.py: the build left no escalon/_escalon*.so in {build / 'python'}")
        target = pathlib.Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[0], target)


setup(
    version=project_version(),
    packages=["escalon"],
    package_dir={"escalon": "bindings/python/escalon"},
    package_data={"escalon": ["__init__.pyi", "py.typed"]},
    ext_modules=[CMakeExtension("escalon._escalon")],
    cmdclass={"build_ext": CMakeBuild},
    options={"build": {"build_base": "build-pip"}},
    zip_safe=False,
)
