"""Build hook: copy the bundled data sets (``data/``, with their PROVENANCE files) into the wheel
as ``engine/_bundled``, where ``engine.bundled.data_dir`` finds them. Everything else is in
pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        source = Path(__file__).resolve().parent / "data"
        if source.is_dir() and not self.editable_mode:
            target = Path(self.build_lib) / "engine" / "_bundled"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)


setup(cmdclass={"build_py": BuildWithData})
