"""corsproof in a pytest suite, on pytest-playwright (``pip install 'corsproof[pytest]'``).

The ``pytest11`` entry point is :mod:`harness.pytest_plugin.plugin`; docs/pytest-plugin.md
shows it in use. Nothing is imported here, so that pytest starts as fast without it.
"""
