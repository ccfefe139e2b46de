"""Arithmetic with worked answers: column addition and subtraction, small products, word problems.

Every answer is computed, never written by hand, so the corpus teaches only correct sums.
"""
from __future__ import annotations

import random

from .stories import FOODS, NAMES, PRONOUNS


def add_steps(a: int, b: int) -> str:
    """Column addition of a + b, one line per digit, with carries."""
    lines, carry, col = [], 0, 0
    da, db = str(a)[::-1], str(b)[::-1]
    places = ["ones", "tens", "hundreds", "thousands", "ten thousands"]
    while col < max(len(da), len(db)):
        x = int(da[col]) if col < len(da) else 0
        y = int(db[col]) if col < len(db) else 0
        s = x + y + carry
        terms = f"{x} + {y}" + (f" + {carry}" if carry else "")
        if s >= 10:
            lines.append(f"{cap_place(places[col])}: {terms} = {s}, write {s - 10} and carry 1.")
            carry = 1
        else:
            lines.append(f"{cap_place(places[col])}: {terms} = {s}, write {s}.")
            carry = 0
        col += 1
    if carry:
        lines.append(f"{cap_place(places[col])}: write the carried 1.")
    return "\n".join(lines)


def sub_steps(a: int, b: int) -> str:
    """Column subtraction of a - b (a >= b), with borrows."""
    lines, borrow = [], 0
    da, db = str(a)[::-1], str(b)[::-1]
    places = ["ones", "tens", "hundreds", "thousands", "ten thousands"]
    for col in range(len(da)):
        x = int(da[col]) - borrow
        y = int(db[col]) if col < len(db) else 0
        if x < y:
            lines.append(f"{cap_place(places[col])}: {x} is less than {y}, so borrow 1: {x + 10} - {y} = {x + 10 - y}.")
            borrow = 1
        else:
            lines.append(f"{cap_place(places[col])}: {x} - {y} = {x - y}.")
            borrow = 0
    return "\n".join(lines)


def cap_place(s: str) -> str:
    return s[:1].upper() + s[1:]


def problem(rng: random.Random) -> tuple[str, str]:
    """(question, worked answer) of one arithmetic problem."""
    kind = rng.choices(["add", "sub", "mul", "word_add", "word_sub", "word_mul"], [3, 3, 2, 2, 2, 1])[0]
    if kind == "add":
        a, b = rng.randint(2, 999), rng.randint(2, 999)
        return f"What is {a} + {b}?", f"{add_steps(a, b)}\nSo {a} + {b} = {a + b}."
    if kind == "sub":
        a, b = sorted((rng.randint(2, 999), rng.randint(2, 999)), reverse=True)
        return f"What is {a} - {b}?", f"{sub_steps(a, b)}\nSo {a} - {b} = {a - b}."
    if kind == "mul":
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        if rng.random() < 0.5:
            adds = " + ".join([str(a)] * b)
            return f"What is {a} x {b}?", f"{a} x {b} means {b} groups of {a}: {adds} = {a * b}.\nSo {a} x {b} = {a * b}."
        return f"What is {a} times {b}?", f"{a} times {b} is {a * b}."
    gender = rng.choice(["she", "he"])
    name = rng.choice(NAMES[gender])
    subj = PRONOUNS[gender][0]
    food = rng.choice(FOODS)
    if kind == "word_add":
        a, b = rng.randint(1, 20), rng.randint(1, 20)
        return (f"{name} has {a} {food}. {subj.capitalize()} gets {b} more. How many {food} does {name} have now?",
                f"{name} starts with {a} {food} and gets {b} more, so we add: {a} + {b} = {a + b}.\n"
                f"{name} has {a + b} {food} now.")
    if kind == "word_sub":
        a = rng.randint(2, 20)
        b = rng.randint(1, a)
        return (f"{name} has {a} {food}. {subj.capitalize()} eats {b} of them. How many {food} are left?",
                f"{name} starts with {a} {food} and eats {b}, so we subtract: {a} - {b} = {a - b}.\n"
                f"There are {a - b} {food} left.")
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    return (f"There are {a} baskets. Each basket has {b} {food}. How many {food} are there in all?",
            f"{a} baskets with {b} {food} each is {a} x {b} = {a * b}.\nThere are {a * b} {food} in all.")


def worksheet(rng: random.Random) -> str:
    """A text document of a few problems with worked answers."""
    parts = []
    for _ in range(rng.randint(2, 4)):
        q, a = problem(rng)
        parts.append(f"Question: {q}\nAnswer: {a}")
    return "\n\n".join(parts)
