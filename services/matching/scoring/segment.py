"""Chinese text into words (jieba), and those words into the English terms of the
bilingual vocabulary where it has them.

jieba's dictionary takes about a second to load (more on a busy machine): it is
loaded once, on the first Chinese text (or by `load` ahead of time, off the event
loop), never for English-only text, so scoring English texts costs what it did.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from typing import Any

from services.matching.scoring.vocabulary import ZH_STOP, ZH_TO_EN

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_lock = threading.Lock()
_tokenizer: Any = None


def load() -> Any:
    """The segmenter, loaded on first use (thread-safe: one load)."""
    global _tokenizer  # one process-wide dictionary, loaded once
    if _tokenizer is not None:
        return _tokenizer
    with _lock:
        if _tokenizer is None:
            import jieba  # imported here: importing it alone takes a second

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            # The vocabulary's terms stay whole ("自动驾驶", "电池管理系统").
            for word in ZH_TO_EN:
                tokenizer.add_word(word, freq=100_000)
            _tokenizer = tokenizer
    return _tokenizer


def has_chinese(text: str) -> bool:
    return CJK.search(text) is not None


@functools.lru_cache(maxsize=16384)
def chinese_words(run: str) -> tuple[str, ...]:
    """Words of a run of Chinese characters: the English phrase of those the
    vocabulary knows, the word itself for others; function words dropped."""
    out: list[str] = []
    for word in load().lcut(run):
        english = ZH_TO_EN.get(word)
        if english is not None:
            out.append(english)
        elif len(word) > 1 and word not in ZH_STOP:
            out.append(word)
    return tuple(out)
