"""Engines a pass can run on: vLLM (with the moe-prof patch) and transformers."""
