"""moe-prof: Python side (capture core, vLLM glue, worker, engines)."""
