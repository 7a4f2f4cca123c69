"""The Python example in docs/python.md (the page the README links for Python) runs as written."""

import contextlib
import io
from pathlib import Path

PAGE = Path(__file__).resolve().parents[3] / "docs" / "python.md"


def test_the_documented_example_runs():
    text = PAGE.read_text()
    assert "```python\n" in text, f"{PAGE} has no python example"
    block = text.split("```python\n", 1)[1].split("```", 1)[0]
    out = io.StringIO()
    namespace = {}
    with contextlib.redirect_stdout(out):
        exec(compile(block, str(PAGE), "exec"), namespace)
    law = namespace["law"]
    assert law.form == "bon" and law.beta > 0 and law.peak is not None
    assert out.getvalue().startswith("alpha ")
