#!/usr/bin/env python3
"""Build the stand-in tokenizer for random-weights runs (`--engine hf --random-weights`).

Qwen's real tokenizer cannot be downloaded where the hardware tests run, so this trains a
byte-level BPE (the same kind as Qwen's) on the bundled GSM8K split and writes it, with
Qwen's ChatML chat template and special tokens, next to the model config. Token counts differ
from the real tokenizer's; routing statistics of a random-weights model mean nothing anyway.
Usage: python3 scripts/make-standin-tokenizer.py [OUT_DIR]   (needs `pip install tokenizers`)
"""

from __future__ import annotations

import json
import pathlib
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = ROOT / "fixtures" / "gsm8k" / "test.jsonl"
OUT = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "fixtures" / "models" / "qwen1.5-moe-a2.7b"
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def main() -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    texts = [r["question"] for r in rows] + [r["answer"] for r in rows]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=8192,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    OUT.mkdir(parents=True, exist_ok=True)
    tok.save(str(OUT / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": 32768,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "bos_token": None,
        "chat_template": CHATML,
        "standin_note": "moe-prof stand-in tokenizer: byte-level BPE trained on GSM8K test; not Qwen's",
    }
    (OUT / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT / 'tokenizer.json'} (vocab {tok.get_vocab_size()})")


if __name__ == "__main__":
    main()
