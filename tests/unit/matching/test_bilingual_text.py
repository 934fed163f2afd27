"""Chinese, English and mixed text: segmentation and the bilingual vocabulary
make texts on one subject similar whatever their language."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

from services.matching.scoring import model as d
from services.matching.scoring.vocabulary import SECTOR_VOCABULARY
from services.matching.settings import MatchingSettings
from shared.taxonomy import SECTORS
from tests.unit.matching.test_scoring import components, enterprise, fund

SUMMARY = (
    "Camera-first autonomous driving stack for delivery vans: perception and planning "
    "with computer vision. Seeking partners to enter the Chinese market."
)
CHINESE_FOCUS = "专注于自动驾驶和计算机视觉的早期初创企业，寻找进入中国市场的合作伙伴。"
UNRELATED_CHINESE = "关注生物科技与制药，以及基因诊断。"


def test_a_chinese_focus_matches_an_english_summary_above_the_threshold() -> None:
    threshold = MatchingSettings(database_url="postgresql://x").match_threshold
    e = enterprise(summary=SUMMARY)
    total, c = components(e, fund(focus=CHINESE_FOCUS))
    assert c["text_similarity"].score >= 0.8, c["text_similarity"]
    assert total >= threshold
    assert "autonomous, driving" in c["text_similarity"].reason
    # Before segmentation and the vocabulary, a Chinese focus shared nothing: the
    # same pair with the text on another subject falls back to the other components.
    _, other = components(e, fund(focus=UNRELATED_CHINESE))
    assert other["text_similarity"].score == 0.0
    assert other["text_similarity"].reason == "project summary and focus share no terms"


def test_mixed_text_and_chinese_against_chinese() -> None:
    assert d.terms("电池管理系统 BMS for EVs") == [
        "battery",
        "management",
        "system",
        "battery",
        "management",
        "electric",
        "vehicle",
    ]
    # Words outside the vocabulary still match the same Chinese word.
    _, c = components(
        enterprise(summary="一种面向港口的集装箱调度系统"),
        fund(focus="港口集装箱调度"),
    )
    assert c["text_similarity"].score > 0.5


def test_every_sector_has_chinese_terms() -> None:
    assert set(SECTOR_VOCABULARY) == set(SECTORS)
    assert all(len(words) >= 3 for words in SECTOR_VOCABULARY.values())


def test_a_cny_fund_writing_chinese_meets_a_usd_enterprise() -> None:
    e = enterprise(summary=SUMMARY, funding_amount=Decimal(3_000_000))
    p = fund(
        focus=CHINESE_FOCUS,
        currency="CNY",
        ticket_min=Decimal(10_000_000),
        ticket_max=Decimal(30_000_000),
    )
    total, c = components(e, p)
    assert c["ticket_fit"].score == 1.0 and c["text_similarity"].score >= 0.8 and total > 0.6


def test_english_text_never_loads_the_segmenter() -> None:
    code = (
        "import sys\n"
        "from services.matching.scoring import model\n"
        f"model.terms({SUMMARY!r})\n"
        "assert 'jieba' not in sys.modules, 'jieba loaded for English text'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
