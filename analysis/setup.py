"""Build hook of the ioca-analysis package (metadata in pyproject.toml).

The version is not written here: it is ioca's `project(ioca VERSION ...)` in the
repository's CMakeLists.txt, read at build time and stored in the built package as
ioca_analysis/_version.py (the source tree reads CMakeLists.txt itself)."""

import os
import re

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def cmake_version() -> str:
    path = os.path.join(HERE, "..", "CMakeLists.txt")
    with open(path, encoding="utf-8") as f:
        m = re.search(r"project\(\s*ioca\s+VERSION\s+([0-9][0-9A-Za-z.+-]*)", f.read())
    if not m:
        raise RuntimeError(f"{path}: no project(ioca VERSION ...)")
    return m.group(1)


class BuildPy(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "ioca_analysis", "_version.py")
        with open(target, "w", encoding="utf-8") as f:
            f.write(f'version = "{cmake_version()}"  # from CMakeLists.txt at build time\n')


setup(version=cmake_version(), cmdclass={"build_py": BuildPy})
