"""Dialogues in the chat format: a system turn, then one to three user/assistant exchanges.

The assistant answers from a small fixed world (facts below, stories, arithmetic and code from the
other generators), always in the same plain style, so a small model learns to hold a short
conversation. Turns are rendered with the ChatML markers of the demo tokenizer's chat template.
"""
from __future__ import annotations

import random

from . import arithmetic, code_snippets, stories

SYSTEM_PROMPTS = [
    "You are a helpful assistant.",
    "You are a helpful assistant.",
    "You are a friendly assistant who answers in short, clear sentences.",
    "You are a storyteller for children.",
    "You are a patient math tutor.",
]

ANIMAL_SOUNDS = {"cow": "moo", "dog": "woof", "cat": "meow", "duck": "quack", "sheep": "baa",
                 "pig": "oink", "owl": "hoot", "lion": "roar", "frog": "ribbit", "horse": "neigh",
                 "bird": "tweet", "goat": "maa", "mouse": "squeak", "bee": "buzz"}
ANIMAL_HOMES = {"fish": "in the water", "bird": "in a nest", "bee": "in a hive", "bear": "in a cave",
                "rabbit": "in a burrow", "fox": "in a den", "spider": "in a web", "cow": "on a farm",
                "owl": "in a tree", "penguin": "on the ice", "frog": "near a pond", "horse": "in a stable"}
COLORS = {"the sky": "blue", "grass": "green", "snow": "white", "a banana": "yellow",
          "a strawberry": "red", "an orange": "orange", "coal": "black", "a carrot": "orange",
          "a lemon": "yellow", "milk": "white", "a leaf": "green", "a cherry": "red",
          "chocolate": "brown", "a plum": "purple", "a tomato": "red", "a pumpkin": "orange",
          "the sun": "yellow", "a cloud": "white", "a frog": "green", "an elephant": "gray",
          "a flamingo": "pink", "a crow": "black", "a violet": "purple", "sand": "tan"}
USES = {"a spoon": "eat soup", "a pen": "write", "a key": "open a lock", "an umbrella": "stay dry in the rain",
        "a ladder": "climb up high", "a broom": "sweep the floor", "a cup": "drink", "a bed": "sleep",
        "a kite": "fly in the wind", "a map": "find the way", "a lamp": "see in the dark",
        "a boat": "travel on water", "a scarf": "keep your neck warm", "a clock": "tell the time",
        "a hammer": "hit nails", "a needle": "sew cloth", "a shovel": "dig holes", "a towel": "dry yourself",
        "a saw": "cut wood", "a comb": "comb your hair", "a bucket": "carry water", "a bicycle": "ride around town",
        "a telescope": "look at the stars", "a thermometer": "measure how hot something is",
        "a calendar": "keep track of the days", "an oven": "bake bread", "a fridge": "keep food cold"}
OPPOSITES = {"hot": "cold", "big": "small", "up": "down", "fast": "slow", "happy": "sad",
             "day": "night", "open": "closed", "old": "new", "light": "dark", "full": "empty",
             "loud": "quiet", "wet": "dry", "early": "late", "near": "far", "heavy": "light",
             "tall": "short", "rich": "poor", "strong": "weak", "soft": "hard", "clean": "dirty",
             "sweet": "sour", "brave": "afraid", "inside": "outside", "first": "last", "win": "lose",
             "push": "pull", "left": "right", "thick": "thin", "young": "old", "asleep": "awake"}
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]


def fact_exchange(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(["sound", "home", "color", "use", "opposite", "day", "month", "legs"])
    if kind == "sound":
        animal, sound = rng.choice(list(ANIMAL_SOUNDS.items()))
        q = rng.choice([f"What sound does a {animal} make?", f"What does a {animal} say?"])
        return q, f"A {animal} says \"{sound}\"."
    if kind == "home":
        animal, home = rng.choice(list(ANIMAL_HOMES.items()))
        return rng.choice([f"Where does a {animal} live?", f"Where do {animal}s live?"]), f"A {animal} lives {home}."
    if kind == "color":
        thing, color = rng.choice(list(COLORS.items()))
        return f"What color is {thing}?", f"{stories.cap(thing)} is {color}."
    if kind == "use":
        thing, use = rng.choice(list(USES.items()))
        return rng.choice([f"What is {thing} for?", f"What do we use {thing} for?"]), f"We use {thing} to {use}."
    if kind == "opposite":
        a, b = rng.choice(list(OPPOSITES.items()))
        if rng.random() < 0.5:
            a, b = b, a
        return f"What is the opposite of {a}?", f"The opposite of {a} is {b}."
    if kind == "day":
        i = rng.randrange(7)
        return f"What day comes after {DAYS[i]}?", f"The day after {DAYS[i]} is {DAYS[(i + 1) % 7]}."
    if kind == "month":
        i = rng.randrange(12)
        return f"What month comes after {MONTHS[i]}?", f"The month after {MONTHS[i]} is {MONTHS[(i + 1) % 12]}."
    animal, legs = rng.choice([("dog", 4), ("cat", 4), ("bird", 2), ("spider", 8), ("fish", 0),
                               ("cow", 4), ("duck", 2), ("bee", 6), ("snake", 0), ("horse", 4)])
    return f"How many legs does a {animal} have?", (f"A {animal} has {legs} legs." if legs else
                                                    f"A {animal} has no legs.")


def story_exchange(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(stories.KINDS + stories.PEOPLE)
    place = rng.choice(stories.PLACES)[0]
    q = rng.choice([f"Tell me a short story about a {kind}.",
                    f"Can you tell me a story about a {kind} in the {place}?",
                    f"Write a story about a {kind}.",
                    f"Please tell me a bedtime story about a {kind}."])
    with_place = "in the" in q
    body = stories.story(rng, kind=kind, place_name=place if with_place else None)
    intro = rng.choice(["Here is a short story.\n\n", "Of course! Here is a story.\n\n", ""])
    return q, intro + body


def math_exchange(rng: random.Random) -> tuple[str, str]:
    q, a = arithmetic.problem(rng)
    return q, a


def code_exchange(rng: random.Random) -> tuple[str, str]:
    task, code, output = code_snippets.snippet(rng)
    out = output.rstrip("\n")
    return task + ".", f"Here is the function:\n\n```python\n{code}\n```\n\nIt prints:\n\n```\n{out}\n```"


def small_talk(rng: random.Random, name: str) -> tuple[str, str]:
    return rng.choice([
        ("Hello!", "Hello! How can I help you today?"),
        ("Hi there.", "Hi! What would you like to talk about?"),
        (f"My name is {name}.", f"Nice to meet you, {name}! How can I help you?"),
        ("How are you?", "I am doing well, thank you. How can I help you?"),
        ("Who are you?", "I am a small assistant. I can tell stories, do arithmetic and write simple code."),
        ("What can you do?", "I can tell short stories, answer simple questions, do arithmetic and write small Python functions."),
        ("Thank you!", "You are welcome!"),
        ("Thanks for your help.", "You are welcome! Have a nice day."),
        ("Goodbye!", "Goodbye! Have a wonderful day."),
    ])


EXCHANGES = [(fact_exchange, 4), (story_exchange, 3), (math_exchange, 3), (code_exchange, 2)]


def turn(role: str, text: str) -> str:
    return f"<|im_start|>{role}\n{text}<|im_end|>\n"


def dialogue(rng: random.Random) -> str:
    """One conversation in ChatML (the demo chat template renders exactly this)."""
    name = rng.choice(stories.NAMES[rng.choice(["she", "he"])])
    parts = []
    if rng.random() < 0.85:
        parts.append(turn("system", rng.choice(SYSTEM_PROMPTS)))
    n = rng.choices([1, 2, 3], [5, 3, 2])[0]
    if rng.random() < 0.3:
        q, a = small_talk(rng, name)
        parts += [turn("user", q), turn("assistant", a)]
    for _ in range(n):
        fn = rng.choices([e[0] for e in EXCHANGES], [e[1] for e in EXCHANGES])[0]
        q, a = fn(rng)
        parts += [turn("user", q), turn("assistant", a)]
    return "".join(parts).rstrip("\n")
