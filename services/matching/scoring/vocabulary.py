"""The bilingual vocabulary of text similarity: per sector of the taxonomy, the
Chinese terms partners write and the English words they mean. A Chinese focus
text and an English project summary on one subject then share terms.

Each Chinese term is also given to the segmenter as a word, so it stays whole
("自动驾驶", not "自动" + "驾驶"). English sides go through the same folding as
English text (plurals, abbreviations), so "电动汽车" and "EVs" meet.
"""

from __future__ import annotations

from shared.taxonomy import SECTORS

SECTOR_VOCABULARY: dict[str, dict[str, str]] = {
    "artificial-intelligence": {
        "人工智能": "artificial intelligence",
        "智能": "intelligent",
        "大模型": "foundation model",
        "基础模型": "foundation model",
        "智能体": "agent",
        "算法": "algorithm",
    },
    "machine-learning": {
        "机器学习": "machine learning",
        "深度学习": "deep learning",
        "神经网络": "neural network",
        "训练": "training",
        "预测": "prediction",
    },
    "computer-vision": {
        "计算机视觉": "computer vision",
        "视觉": "vision",
        "图像识别": "image recognition",
        "感知": "perception",
        "摄像头": "camera",
        "检测": "inspection",
        "质检": "inspection",
    },
    "natural-language-processing": {
        "自然语言处理": "natural language processing",
        "语音": "speech",
        "翻译": "translation",
        "对话": "conversational",
        "客服": "customer service",
    },
    "autonomous-driving": {
        "自动驾驶": "autonomous driving",
        "无人驾驶": "self driving",
        "无人车": "autonomous vehicle",
        "激光雷达": "lidar",
        "规划": "planning",
        "仿真": "simulation",
    },
    "electric-vehicles": {
        "电动汽车": "electric vehicle",
        "新能源汽车": "electric vehicle",
        "充电": "charging",
        "整车": "vehicle",
        "车辆": "vehicle",
        "汽车": "vehicle",
    },
    "smart-transportation": {
        "智慧交通": "smart transportation",
        "智能交通": "smart transportation",
        "交通": "transportation",
        "出行": "mobility",
        "车队": "fleet",
    },
    "logistics-networks": {
        "物流": "logistics",
        "物流网络": "logistics network",
        "配送": "delivery",
        "快递": "parcel delivery",
        "包裹": "parcel",
        "路线": "routing",
        "同城": "same day",
    },
    "supply-chain": {
        "供应链": "supply chain",
        "货运": "freight",
        "海关": "customs",
        "跨境": "cross border",
        "航运": "shipping",
    },
    "warehouse-automation": {
        "仓储": "warehouse",
        "仓库": "warehouse",
        "分拣": "picking",
        "拣选": "picking",
        "仓储自动化": "warehouse automation",
    },
    "battery-management": {
        "电池": "battery",
        "电池管理": "battery management",
        "电池管理系统": "battery management system",
        "电芯": "cell",
        "阻抗": "impedance",
        "故障": "failure",
    },
    "energy-storage": {
        "储能": "energy storage",
        "电网": "grid",
        "梯次利用": "second life",
        "电池包": "battery pack",
    },
    "renewable-energy": {
        "可再生能源": "renewable energy",
        "新能源": "renewable energy",
        "光伏": "solar",
        "太阳能": "solar",
        "风电": "wind",
        "氢能": "hydrogen",
    },
    "big-data": {
        "大数据": "big data",
        "数据": "data",
        "数据分析": "data analytics",
        "分析": "analytics",
    },
    "cloud-computing": {
        "云计算": "cloud computing",
        "云": "cloud",
        "云平台": "cloud platform",
        "平台": "platform",
        "软件": "software",
    },
    "cybersecurity": {
        "网络安全": "cybersecurity",
        "信息安全": "security",
        "安全": "security",
        "加密": "encryption",
        "隐私": "privacy",
    },
    "internet-of-things": {
        "物联网": "internet of things",
        "传感器": "sensor",
        "边缘计算": "edge computing",
        "边缘": "edge",
    },
    "robotics": {
        "机器人": "robot",
        "机械臂": "robotic arm",
        "服务机器人": "service robot",
    },
    "industrial-automation": {
        "工业自动化": "industrial automation",
        "自动化": "automation",
        "工业": "industrial",
        "工厂": "factory",
        "智能制造": "smart manufacturing",
    },
    "drones": {
        "无人机": "drone",
        "低空经济": "low altitude",
        "航拍": "aerial",
    },
    "healthtech": {
        "医疗": "healthcare",
        "数字医疗": "digital health",
        "健康": "health",
        "医院": "hospital",
    },
    "biotech": {
        "生物科技": "biotech",
        "生物技术": "biotech",
        "制药": "pharmaceutical",
        "药物": "drug",
        "基因": "gene",
    },
    "medical-devices": {
        "医疗器械": "medical device",
        "诊断": "diagnostic",
        "影像": "imaging",
    },
    "fintech": {
        "金融科技": "fintech",
        "支付": "payment",
        "跨境支付": "cross border payment",
        "风控": "risk management",
    },
    "blockchain": {
        "区块链": "blockchain",
        "数字资产": "digital asset",
        "智能合约": "smart contract",
    },
    "advanced-manufacturing": {
        "先进制造": "advanced manufacturing",
        "制造": "manufacturing",
        "生产": "production",
        "精密": "precision",
    },
    "semiconductors": {
        "半导体": "semiconductor",
        "芯片": "chip",
        "集成电路": "integrated circuit",
    },
    "new-materials": {
        "新材料": "new material",
        "材料": "material",
        "复合材料": "composite material",
        "石墨烯": "graphene",
    },
}

# Words of any sector's texts: the market, the deal, the partners.
COMMON_VOCABULARY: dict[str, str] = {
    "中国": "chinese",
    "中国市场": "chinese market",
    "市场": "market",
    "上海": "shanghai",
    "城市": "city",
    "投资": "investment",
    "融资": "financing",
    "早期": "early stage",
    "初创": "startup",
    "初创企业": "startup",
    "合作": "partner",
    "合作伙伴": "partner",
    "试点": "pilot",
    "本地": "local",
    "制造商": "manufacturer",
    "银行": "bank",
    "贷款": "loan",
    "贸易融资": "trade finance",
    "账户": "account",
    "技术": "technology",
    "科技": "technology",
    "企业": "enterprise",
    "进入": "entering",
}

if set(SECTOR_VOCABULARY) != set(SECTORS):
    raise RuntimeError("the bilingual vocabulary must cover every sector of the taxonomy")

# Chinese term -> English words, over every sector and the common words.
ZH_TO_EN: dict[str, str] = {
    zh: en for table in (*SECTOR_VOCABULARY.values(), COMMON_VOCABULARY) for zh, en in table.items()
}

# Chinese function words and fillers that carry no subject.
ZH_STOP = frozenset(
    [
        "的",
        "了",
        "和",
        "与",
        "及",
        "等",
        "在",
        "为",
        "对",
        "于",
        "是",
        "有",
        "我们",
        "我",
        "你们",
        "他们",
        "公司",
        "寻找",
        "希望",
        "关注",
        "专注",
        "专注于",
        "领域",
        "方向",
        "相关",
        "以及",
        "通过",
        "提供",
        "主要",
        "包括",
        "一个",
        "各类",
        "重点",
        "面向",
        "帮助",
        "用于",
        "进行",
        "开展",
    ]
)
