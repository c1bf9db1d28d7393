"""The examples of docs/python.md run: every ```python block, in order, in one namespace, in a
fresh directory."""

import re

from conftest import SOURCE_DIR


def test_python_md_examples_run(tmp_path, monkeypatch):
    text = (SOURCE_DIR / "docs" / "python.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for i, block in enumerate(blocks):
        exec(compile(block, "docs/python.md block %d" % (i + 1), "exec"), namespace)
    assert (tmp_path / "m.crank").exists()
