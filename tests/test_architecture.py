"""The house rules of DESIGN.md, enforced."""

import pkgutil
import subprocess
import sys
import textwrap

import core

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_core_never_imports_streamlit():
    """Every core module imports with streamlit made unimportable: all features work headless."""
    names = [m.name for m in pkgutil.walk_packages(core.__path__, "core.") if not m.name.endswith("__main__")]
    assert len(names) >= 5
    result = _run(
        f"""
        import importlib, sys
        sys.modules["streamlit"] = None  # any `import streamlit` now raises ImportError
        failed = []
        for name in {names!r}:
            try:
                importlib.import_module(name)
            except ImportError as exc:
                failed.append(f"{{name}}: {{exc}}")
        print("\\n".join(failed))
        sys.exit(1 if failed else 0)
        """
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_app_start_does_not_import_torch():
    """Starting the lab (importing app and rendering home) must not pay torch's ~5 s import."""
    result = _run(
        """
        import sys
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file("app.py", default_timeout=60).run()
        assert not at.exception, at.exception
        heavy = sorted(m for m in ("torch", "sentence_transformers", "setfit", "transformers") if m in sys.modules)
        print(heavy)
        sys.exit(1 if heavy else 0)
        """
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cli_help_lists_commands():
    result = subprocess.run([sys.executable, "-m", "core", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0
    assert "datasets" in result.stdout
