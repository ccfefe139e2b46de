"""Small Python snippets: a function, a call and its printed result.

Each snippet is executed when it is made and its real output is written after it, so the corpus
never shows a wrong result.
"""
from __future__ import annotations

import contextlib
import io
import random

# (function name, docstring, body lines, argument makers)
FUNCTIONS = [
    ("add", "Return the sum of a and b.", ["return a + b"], ["a", "b"], "int2"),
    ("subtract", "Return a minus b.", ["return a - b"], ["a", "b"], "int2"),
    ("multiply", "Return the product of a and b.", ["return a * b"], ["a", "b"], "int2"),
    ("square", "Return x times x.", ["return x * x"], ["x"], "int1"),
    ("is_even", "Return True if n is even.", ["return n % 2 == 0"], ["n"], "int1"),
    ("maximum", "Return the largest number in the list.",
     ["best = items[0]", "for item in items:", "    if item > best:", "        best = item", "return best"],
     ["items"], "list"),
    ("minimum", "Return the smallest number in the list.",
     ["best = items[0]", "for item in items:", "    if item < best:", "        best = item", "return best"],
     ["items"], "list"),
    ("total", "Return the sum of the numbers in the list.",
     ["result = 0", "for item in items:", "    result += item", "return result"], ["items"], "list"),
    ("count_even", "Return how many numbers in the list are even.",
     ["count = 0", "for item in items:", "    if item % 2 == 0:", "        count += 1", "return count"],
     ["items"], "list"),
    ("factorial", "Return n factorial.",
     ["result = 1", "for i in range(2, n + 1):", "    result *= i", "return result"], ["n"], "small"),
    ("reverse", "Return the text backwards.", ["return text[::-1]"], ["text"], "word"),
    ("shout", "Return the text in capital letters with an exclamation mark.",
     ["return text.upper() + \"!\""], ["text"], "word"),
    ("count_vowels", "Return the number of vowels in the text.",
     ["return sum(1 for ch in text if ch in \"aeiou\")"], ["text"], "word"),
    ("fib", "Return the n-th Fibonacci number.",
     ["a, b = 0, 1", "for _ in range(n):", "    a, b = b, a + b", "return a"], ["n"], "small"),
    ("average", "Return the mean of the numbers in the list.",
     ["return sum(items) / len(items)"], ["items"], "list"),
    ("greet", "Return a greeting for the name.", ["return \"Hello, \" + name + \"!\""], ["name"], "name"),
]
WORDS = ["apple", "river", "garden", "kite", "banana", "window", "dragon", "pencil", "orange", "forest"]
GREET_NAMES = ["Lily", "Tom", "Mia", "Leo", "Anna", "Sam"]


def make_args(rng: random.Random, kind: str) -> list:
    if kind == "int2":
        return [rng.randint(0, 99), rng.randint(0, 99)]
    if kind == "int1":
        return [rng.randint(0, 30)]
    if kind == "small":
        return [rng.randint(1, 10)]
    if kind == "list":
        return [[rng.randint(0, 50) for _ in range(rng.randint(3, 6))]]
    if kind == "word":
        return [rng.choice(WORDS)]
    return [rng.choice(GREET_NAMES)]


def function_source(name: str, doc: str, body: list[str], params: list[str]) -> str:
    lines = [f"def {name}({', '.join(params)}):", f"    \"\"\"{doc}\"\"\""]
    lines += ["    " + line for line in body]
    return "\n".join(lines)


def run_snippet(source: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<snippet>", "exec"), {})  # noqa: S102 - our own generated source
    return out.getvalue()


def snippet(rng: random.Random, function: str | None = None) -> tuple[str, str, str]:
    """(task sentence, code, printed output) of one snippet; function picks by name."""
    spec = next((f for f in FUNCTIONS if f[0] == function), None) or rng.choice(FUNCTIONS)
    name, doc, body, params, kind = spec
    src = function_source(name, doc, body, params)
    calls = [make_args(rng, kind) for _ in range(rng.randint(1, 2))]
    call_lines = [f"print({name}({', '.join(repr(a) for a in args)}))" for args in calls]
    code = src + "\n\n\n" + "\n".join(call_lines)
    output = run_snippet(code)
    task = "Write a Python function that returns " + doc[len("Return "):]
    return task, code, output


def code_document(rng: random.Random) -> str:
    """A text document: a comment, the code and its output."""
    task, code, output = snippet(rng)
    out_lines = "\n".join("# " + line for line in output.rstrip("\n").split("\n"))
    return f"# Task: {task}\n{code}\n# Output:\n{out_lines}"
