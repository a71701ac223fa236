"""Turn GSM8K questions into the token ids the model sees."""

from __future__ import annotations

from typing import Any


def encode_messages(tokenizer: Any, messages: list[str], chat_template: bool) -> list[list[int]]:
    out: list[list[int]] = []
    for text in messages:
        if chat_template and getattr(tokenizer, "chat_template", None):
            ids = tokenizer.apply_chat_template(
                [{"role": "user", "content": text}], tokenize=True, add_generation_prompt=True
            )
            # transformers 5 returns a BatchEncoding-like mapping; 4.x returns a list.
            if not isinstance(ids, list):
                ids = ids["input_ids"]
        else:
            ids = tokenizer(text, add_special_tokens=True)["input_ids"]
        out.append([int(t) for t in ids])
    return out
