"""The README's Python example runs as written."""

import contextlib
import io
from pathlib import Path

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_example_runs():
    section = README.read_text().split("## Python\n", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    out = io.StringIO()
    namespace = {}
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), namespace)
    law = namespace["law"]
    assert law.form == "bon" and law.beta > 0 and law.peak is not None
    assert out.getvalue().startswith("alpha ")
