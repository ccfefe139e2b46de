"""The demo models' tokenizer: byte-level BPE trained with the `tokenizers` package.

  python3 -m demo.tokenizer_train --corpus CORPUS_DIR -o TOKENIZER_DIR [--vocab 4096]

Pre-tokenization is Qwen2's (its regex, then byte-level without a regex: every digit is its own
piece, which keeps column arithmetic learnable), so GGUF files name it `qwen2` and llama.cpp-style
runtimes tokenize identically. Special tokens: <|endoftext|> (BOS, added in front of every text,
and the end of a document), <|im_start|> and <|im_end|> (chat turns; <|im_end|> ends an assistant
turn). The chat template is ChatML.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from .corpus import read_split

BOS = "<|endoftext|>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
SPECIALS = [BOS, IM_START, IM_END]
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def new_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    return tok


def train(texts, vocab_size: int) -> Tokenizer:
    """texts: iterable of str (turn markers already removed: they are added tokens, not merges)."""
    tok = new_tokenizer()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, min_frequency=2,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, tok.token_to_id(BOS))])
    return tok


def save(tok: Tokenizer, out: Path) -> None:
    """tokenizer.json, tokenizer_config.json (chat template, specials) and special_tokens_map.json."""
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    added = {str(tok.token_to_id(t)): {"content": t, "lstrip": False, "rstrip": False, "normalized": False,
                                       "single_word": False, "special": True} for t in SPECIALS}
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS, "eos_token": BOS, "pad_token": BOS, "unk_token": None,
        "add_bos_token": True, "add_eos_token": False,
        "model_max_length": 2048,
        "clean_up_tokenization_spaces": False,
        "added_tokens_decoder": added,
        "chat_template": CHAT_TEMPLATE,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "special_tokens_map.json").write_text(
        json.dumps({"bos_token": BOS, "eos_token": BOS, "pad_token": BOS}, indent=2) + "\n")


def training_texts(corpus: Path):
    for d in read_split(corpus / "train.jsonl"):
        text = d["text"]
        for marker in SPECIALS:
            text = text.replace(marker, "\n")
        yield text


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, required=True, help="directory written by demo.corpus")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--vocab", type=int, default=4096)
    a = p.parse_args(argv)
    if not (a.corpus / "train.jsonl").is_file():
        p.error(f"{a.corpus / 'train.jsonl'} not found: run python3 -m demo.corpus first")
    tok = train(training_texts(a.corpus), a.vocab)
    save(tok, a.out)
    print(f"tokenizer: {tok.get_vocab_size()} tokens -> {a.out}")


if __name__ == "__main__":
    main()
