"""Short stories from a small grammar: characters, places, objects and simple plots.

Every story is built from one seeded random.Random, so the same seed gives the same text. A story
keeps its cast consistent (names, kinds, pronouns) from the first sentence to the last, which is
what lets a small model learn to continue one coherently.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

NAMES = {
    "she": ["Lily", "Mia", "Anna", "Rosa", "Ella", "Nora", "Lucy", "Ivy", "Zoe", "Maya", "Ruby",
            "Clara", "Daisy", "Hana", "Lena", "Sara", "Tessa", "Wren", "Jade", "Pia", "Amara", "Beatrix",
            "Celeste", "Dora", "Esme", "Fiona", "Greta", "Holly", "Iris", "Juniper", "Kira", "Luna",
            "Matilda", "Nadia", "Olive", "Penny", "Quinn", "Rosie", "Stella", "Uma", "Violet", "Willa"],
    "he": ["Tom", "Ben", "Max", "Leo", "Sam", "Finn", "Jack", "Hugo", "Oscar", "Theo", "Milo",
           "Noah", "Omar", "Pablo", "Ravi", "Toby", "Eli", "Kai", "Jon", "Pip", "Arlo", "Bruno",
           "Caspar", "Dexter", "Elliot", "Felix", "Gus", "Harvey", "Igor", "Jasper", "Kofi", "Louis",
           "Marco", "Nico", "Otto", "Percy", "Rufus", "Stanley", "Tariq", "Vincent", "Walter", "Ziggy"],
}
PRONOUNS = {"she": ("she", "her", "her", "herself"), "he": ("he", "him", "his", "himself")}
KINDS = ["fox", "rabbit", "cat", "dog", "bear", "owl", "mouse", "turtle", "duck", "frog",
         "squirrel", "lion", "robot", "dragon", "hedgehog", "goat", "pig", "horse", "bird", "penguin",
         "elephant", "giraffe", "badger", "beaver", "otter", "raccoon", "kangaroo", "koala", "zebra",
         "tiger", "wolf", "deer", "donkey", "monkey", "panda", "parrot", "snail", "crab", "whale",
         "dolphin", "chicken", "lamb", "puppy", "kitten", "unicorn", "giant", "wizard", "pirate"]
PEOPLE = ["girl", "boy", "farmer", "baker", "sailor", "painter", "king", "queen", "princess",
          "prince", "teacher", "fisher", "doctor", "gardener", "builder", "musician", "knight",
          "explorer", "shepherd", "carpenter", "tailor", "pilot", "nurse", "scientist", "poet"]
TRAITS = ["little", "kind", "brave", "curious", "shy", "clever", "happy", "sleepy", "busy",
          "gentle", "funny", "quiet", "young", "old", "small", "friendly", "cheerful", "careful",
          "clumsy", "grumpy", "polite", "patient", "playful", "proud", "silly", "smart", "strong",
          "tiny", "wise", "lazy", "noisy", "honest", "generous", "adventurous", "thoughtful", "lively"]
PLACES = [
    ("forest", "in the forest", "the tall trees"),
    ("village", "in a small village", "the little houses"),
    ("castle", "in a big castle", "the stone towers"),
    ("river", "by the river", "the cold water"),
    ("mountain", "on a high mountain", "the rocks and snow"),
    ("garden", "in a green garden", "the flowers"),
    ("beach", "near the beach", "the sand and the waves"),
    ("farm", "on a farm", "the barn and the fields"),
    ("city", "in a busy city", "the streets"),
    ("meadow", "in a sunny meadow", "the tall grass"),
    ("island", "on a tiny island", "the palm trees"),
    ("library", "in an old library", "the dusty shelves"),
    ("desert", "in a hot desert", "the golden dunes"),
    ("lake", "beside a quiet lake", "the lily pads"),
    ("valley", "in a deep valley", "the winding paths"),
    ("harbor", "at a busy harbor", "the ships and the nets"),
    ("jungle", "in a thick jungle", "the vines and the ferns"),
    ("orchard", "in an apple orchard", "the rows of trees"),
    ("swamp", "in a muddy swamp", "the reeds"),
    ("market", "at the town market", "the stalls and the carts"),
    ("lighthouse", "near an old lighthouse", "the rocky shore"),
    ("school", "at the village school", "the classrooms"),
]
OBJECTS = ["red ball", "golden key", "old map", "blue kite", "shiny stone", "wooden boat",
           "magic hat", "small lamp", "basket of apples", "book of songs", "silver bell",
           "green umbrella", "warm scarf", "paper star", "toy drum", "jar of honey", "yellow bucket",
           "tiny compass", "music box", "feather pen", "glass marble", "purple blanket", "brass whistle",
           "picture frame", "spotted shell", "straw hat", "wind chime", "pocket watch", "clay pot",
           "woolly sock", "rubber boot", "telescope", "lantern", "seashell necklace", "kaleidoscope"]
FOODS = ["apples", "berries", "carrots", "cookies", "eggs", "plums", "nuts", "pears", "oranges",
         "cupcakes"]
FEARS = [("the dark", "dark"), ("thunder", "loud"), ("deep water", "deep"), ("the big hill", "high"),
         ("the old bridge", "shaky")]
SEARCH_SPOTS = ["under the bed", "behind the door", "in the tall grass", "near the well",
                "under a big leaf", "inside an old box", "next to the fence", "by the pond",
                "in the kitchen", "under the stairs"]
FEELINGS_GOOD = ["happy", "glad", "proud", "excited", "thankful"]
FEELINGS_BAD = ["sad", "worried", "upset", "scared", "lonely"]
WEATHER = ["sunny", "windy", "rainy", "cold", "warm", "snowy", "cloudy", "foggy", "bright", "chilly",
           "stormy", "misty", "breezy", "frosty"]
OPENINGS = [
    "Once upon a time, {place_phrase}, there lived a {trait} {kind} named {name}.",
    "Once upon a time, there was a {trait} {kind} named {name} who lived {place_phrase}.",
    "Long ago, {place_phrase}, lived a {trait} {kind} called {name}.",
    "One {weather} morning, a {trait} {kind} named {name} woke up {place_phrase}.",
    "There was once a {trait} {kind} named {name}. {Subj} lived {place_phrase}.",
    "{name} was a {trait} {kind} who lived {place_phrase}.",
]
ENDINGS = [
    "From that day on, {name} and {friend} were the best of friends.",
    "And {name} was {good} for a long, long time.",
    "That night, {name} went to sleep with a big smile.",
    "{name} never forgot that day.",
    "The end.",
]


@dataclass
class Character:
    name: str
    kind: str
    trait: str
    gender: str

    @property
    def subj(self) -> str:
        return PRONOUNS[self.gender][0]

    @property
    def obj(self) -> str:
        return PRONOUNS[self.gender][1]

    @property
    def poss(self) -> str:
        return PRONOUNS[self.gender][2]

    @property
    def refl(self) -> str:
        return PRONOUNS[self.gender][3]


def article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def make_character(rng: random.Random, exclude: set[str] = frozenset(), kind: str | None = None) -> Character:
    gender = rng.choice(["she", "he"])
    name = rng.choice([n for n in NAMES[gender] if n not in exclude])
    if kind is None:
        kind = rng.choice(KINDS) if rng.random() < 0.7 else rng.choice(PEOPLE)
    return Character(name, kind, rng.choice(TRAITS), gender)


def plot_lost(rng: random.Random, hero: Character, friend: Character, place) -> list[str]:
    obj = rng.choice(OBJECTS)
    spots = rng.sample(SEARCH_SPOTS, 3)
    return [
        f"{hero.name} had {article(obj)} that {hero.subj} loved very much.",
        f"One day, {hero.name} could not find {hero.poss} {obj}.",
        f"{cap(hero.subj)} looked {spots[0]}, but it was not there.",
        f"{cap(hero.subj)} looked {spots[1]}, but it was not there either.",
        f"{hero.name} felt {rng.choice(FEELINGS_BAD)} and began to cry.",
        f"Then {friend.name} the {friend.kind} came by and asked, \"Why are you crying, {hero.name}?\"",
        f"\"I lost my {obj},\" said {hero.name}.",
        f"\"Let me help you,\" said {friend.name}.",
        f"Together they looked {spots[2]}, and there it was!",
        f"{hero.name} was so {rng.choice(FEELINGS_GOOD)}. \"Thank you, {friend.name}!\" {hero.subj} said.",
    ]


def plot_fear(rng: random.Random, hero: Character, friend: Character, place) -> list[str]:
    fear, adj = rng.choice(FEARS)
    return [
        f"{hero.name} was afraid of {fear}.",
        f"Every time {hero.subj} saw {fear}, {hero.subj} wanted to run away.",
        f"One day, {hero.poss} friend {friend.name} the {friend.kind} needed help on the other side of {fear}.",
        f"{hero.name} was scared, but {hero.subj} wanted to help {friend.name}.",
        f"{cap(hero.subj)} took a deep breath and said, \"I can do this.\"",
        f"Step by step, {hero.name} went through {fear}. It was {adj}, but {hero.subj} did not stop.",
        f"At last, {hero.subj} reached {friend.name} and helped {friend.obj}.",
        f"\"You are very brave,\" said {friend.name}.",
        f"{hero.name} smiled. {cap(hero.subj)} was not afraid of {fear} anymore.",
    ]


def plot_share(rng: random.Random, hero: Character, friend: Character, place) -> list[str]:
    food = rng.choice(FOODS)
    n = rng.randint(3, 9)
    give = rng.randint(1, n - 1)
    return [
        f"{hero.name} had {n} {food} in a basket.",
        f"On the way home, {hero.subj} met {friend.name} the {friend.kind}.",
        f"{friend.name} looked hungry and {rng.choice(FEELINGS_BAD)}.",
        f"\"Would you like some {food}?\" asked {hero.name}.",
        f"{hero.name} gave {give} {food} to {friend.name}, and {hero.subj} kept {n - give}.",
        f"{friend.name} said, \"Thank you! You are so kind.\"",
        f"They sat down {place[1]} and ate the {food} together.",
        f"{hero.name} learned that sharing makes everyone {rng.choice(FEELINGS_GOOD)}.",
    ]


def plot_journey(rng: random.Random, hero: Character, friend: Character, place) -> list[str]:
    goal = rng.choice([p for p in PLACES if p is not place])
    return [
        f"{hero.name} wanted to see the {goal[0]}, but it was far away.",
        f"One morning, {hero.subj} packed a bag with {rng.choice(FOODS)} and {article(rng.choice(OBJECTS))}.",
        f"{cap(hero.subj)} walked past {place[2]} and kept going.",
        f"On the road, {hero.subj} met {friend.name} the {friend.kind}.",
        f"\"Where are you going?\" asked {friend.name}.",
        f"\"I am going to the {goal[0]},\" said {hero.name}.",
        f"\"I know the way,\" said {friend.name}. \"Follow me.\"",
        f"They walked all day, and when the sun went down, they saw {goal[2]}.",
        f"{hero.name} was so {rng.choice(FEELINGS_GOOD)}. {cap(hero.subj)} had made it to the {goal[0]}!",
    ]


def plot_build(rng: random.Random, hero: Character, friend: Character, place) -> list[str]:
    thing, material = rng.choice([("boat", "sticks"), ("house", "stones"), ("kite", "paper"),
                                  ("tower", "blocks"), ("bridge", "wood"), ("nest", "twigs")])
    return [
        f"{hero.name} wanted to build a {thing}.",
        f"{cap(hero.subj)} found some {material} and started to work.",
        f"But the {thing} fell apart, and {hero.name} felt {rng.choice(FEELINGS_BAD)}.",
        f"{friend.name} the {friend.kind} saw {hero.obj} and said, \"Do not give up. Try again.\"",
        f"So {hero.name} tried again. This time {hero.subj} worked slowly and carefully.",
        f"{friend.name} held the {material} while {hero.name} put them together.",
        f"At last, the {thing} was done, and it was strong.",
        f"{hero.name} learned that if you keep trying, you can do hard things.",
    ]


def plot_contest(rng: random.Random, hero: Character, friend: Character, place) -> list[str]:
    contest, verb = rng.choice([("race", "ran"), ("singing contest", "sang"), ("baking contest", "baked"),
                                ("jumping contest", "jumped"), ("drawing contest", "drew")])
    win = rng.random() < 0.5
    lines = [
        f"There was a big {contest} {place[1]}.",
        f"{hero.name} wanted to win, so {hero.subj} practiced every day.",
        f"{friend.name} the {friend.kind} was in the {contest} too.",
        f"On the day of the {contest}, everyone came to watch.",
        f"{hero.name} {verb} as well as {hero.subj} could.",
    ]
    if win:
        lines += [f"{hero.name} won the {contest}! Everyone cheered.",
                  f"{cap(hero.subj)} shared the prize with {friend.name}."]
    else:
        lines += [f"{friend.name} won the {contest}, and {hero.name} came second.",
                  f"{hero.name} was a little {rng.choice(FEELINGS_BAD)}, but {hero.subj} said, \"Well done, {friend.name}!\"",
                  f"{hero.name} learned that trying your best is what matters."]
    return lines


def plot_gift(rng: random.Random, hero: Character, friend: Character, place) -> list[str]:
    gift = rng.choice(OBJECTS)
    return [
        f"Tomorrow was {friend.name}'s birthday.",
        f"{hero.name} wanted to give {friend.obj} a gift, but {hero.subj} had no money.",
        f"So {hero.subj} decided to make {article(gift)} all by {hero.refl}.",
        f"{cap(hero.subj)} worked all afternoon {place[1]}.",
        f"The next day, {hero.name} gave the {gift} to {friend.name}.",
        f"{friend.name} said, \"This is the best gift ever!\"",
        f"{hero.name} felt {rng.choice(FEELINGS_GOOD)}. A gift made with love is the best gift of all.",
    ]


def plot_storm(rng: random.Random, hero: Character, friend: Character, place) -> list[str]:
    return [
        f"One day, the sky grew dark and the wind began to blow.",
        f"A big storm was coming to the {place[0]}.",
        f"{hero.name} ran home, but on the way {hero.subj} saw {friend.name} the {friend.kind} alone in the rain.",
        f"\"Come with me!\" said {hero.name}. \"My home is warm and dry.\"",
        f"They ran together and got inside just in time.",
        f"They drank warm milk and listened to the rain.",
        f"In the morning, the sun came out and the {place[0]} was bright and clean.",
        f"{friend.name} said, \"Thank you for helping me, {hero.name}.\"",
    ]


PLOTS = {"lost": plot_lost, "fear": plot_fear, "share": plot_share, "journey": plot_journey,
         "build": plot_build, "contest": plot_contest, "gift": plot_gift, "storm": plot_storm}


def story(rng: random.Random, kind: str | None = None, place_name: str | None = None,
          plot: str | None = None) -> str:
    """One story; kind, place and plot are drawn when not given (a chat request names them)."""
    hero = make_character(rng, kind=kind)
    friend = make_character(rng, exclude={hero.name})
    place = next((p for p in PLACES if p[0] == place_name), None) or rng.choice(PLACES)
    opening = rng.choice(OPENINGS).format(
        place_phrase=place[1], trait=hero.trait, kind=hero.kind, name=hero.name,
        weather=rng.choice(WEATHER), Subj=cap(hero.subj))
    body = PLOTS[plot or rng.choice(list(PLOTS))](rng, hero, friend, place)
    ending = rng.choice(ENDINGS).format(name=hero.name, friend=friend.name, good=rng.choice(FEELINGS_GOOD))
    sentences = [opening] + body + [ending]
    # Paragraphs of two to four sentences.
    paragraphs, i = [], 0
    while i < len(sentences):
        n = rng.randint(2, 4)
        paragraphs.append(" ".join(sentences[i:i + n]))
        i += n
    return "\n".join(paragraphs)
