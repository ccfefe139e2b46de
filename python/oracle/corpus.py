"""Small built-in text used to train the fixture tokenizers (no downloads)."""

CORPUS = """\
The quick brown fox jumps over the lazy dog. The dog does not mind; it is asleep in the sun.
A language model reads a sequence of tokens and predicts the next one. Then it reads that token too,
and the loop goes on until the model emits an end token or the caller stops it.
Inference engines keep the keys and values of earlier tokens in a cache, so that each new token
only needs one pass through the weights. The cache grows with the context, and memory is the limit.
Batching many requests together reads each weight once for the whole batch, which is why servers
schedule work in steps: prefill the new prompts, decode the running ones, and repeat.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 256 1024 2048 4096 3.14159 2.71828 1e-5 -7 +12 50% $9.99
Dates and times: 2024-01-31 12:30:45, Monday, Tuesday, Wednesday, Thursday, Friday.
It's a test. Don't panic. We'll see. They've gone. I'm here. You're there. She'd know. HE'LL COME.
def forward(self, x):
    h = self.norm(x)
    return x + self.attention(h)

for i in range(10):
    print(i * i)

{"role": "user", "content": "Hello there!"}
<html><body><p>Hello, world.</p></body></html>
Caf\u00e9, na\u00efve, r\u00e9sum\u00e9, \u00fcber, \u00e5ngstr\u00f6m, se\u00f1or, gar\u00e7on.
\u65e5\u672c\u8a9e\u306e\u6587\u7ae0\u3067\u3059\u3002 \u4e2d\u6587\u6587\u672c\u3002 \ud55c\uad6d\uc5b4 \ubb38\uc7a5. \u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442. \u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac.
Emoji: \U0001f642 \U0001f680 \u2764\ufe0f \U0001f468\u200d\U0001f469\u200d\U0001f467
Tabs\tand\tspaces    and new lines

and blank lines.
The weather today is sunny with a light breeze from the west. Tomorrow there may be rain.
Every token costs time and memory; measure first, then optimize what the numbers point at.
the the the of of of and and and to to to in in in is is is that that that it it it
"""

# Texts whose tokenization is recorded in reference.json (exercise specials, spaces, unicode).
TOKENIZE_TEXTS = [
    "Hello world",
    " Hello world",
    "",
    "The quick brown fox jumps over the lazy dog.",
    "multiple   spaces\n\n\nnewlines\tand tabs",
    "numbers 12345 and 3.14159 and 1e-5",
    "It's don't WE'LL they've",
    "Caf\u00e9 na\u00efve \u65e5\u672c\u8a9e \U0001f642",
    "def f(x):\n    return x * 2\n",
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "unseen words: zyxwvut qqqq \u00df\u00df",
]
