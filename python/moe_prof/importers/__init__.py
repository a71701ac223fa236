"""`moe-prof import`: other engines' routing captures as moe-prof routes logs (JSONL), with the
expert ids only (neither engine records the routing weights): the meta line says
`weights_logged: false` and `imported_from`, and the rows carry no topk_weights."""

from __future__ import annotations


class ImportError_(ValueError):
    """Input that cannot become route rows; the message is one line naming the file and field."""
