"""Writes qa_assistant/data/news_stress/ (corpus.jsonl, questions.jsonl): a synthetic, news-like stress set for
retrieval — many short reports on one beat (attacks and public-safety incidents) whose topic words are shared,
so that only names, places, dates and numbers tell the stories apart. Some incidents get a follow-up report,
some towns see two incidents. Deterministic (fixed seed); every answer occurs only in the reports of its own
incident, and every question names something (a town, venue, street or person) that the answering paragraph
or its headline holds. Run: ``python -m benchmarks.make_news_stress``."""
from __future__ import annotations

import datetime
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

SEED = 15
FOLDER = Path(__file__).resolve().parent.parent / "qa_assistant" / "data" / "news_stress"
N_INTERNATIONAL = 44
N_DOMESTIC = 20
FOLLOW_UP_SHARE = 0.35  # incidents with a second report a few days later
SAME_TOWN = 6  # incidents in a town that already had one
QUESTIONS_PER_ARTICLE = 3
N_UNANSWERABLE = 16
SHARED = {"suspect", "injured", "date"}  # facts a follow-up report repeats with the same meaning

# ---------------------------------------------------------------- name material (all invented)

SYLLABLES = list("阿埃艾安奥巴拜班邦贝本比宾波博布查达戴丹德迪蒂丁杜顿多恩法菲费芬弗福盖甘戈格古哈海汉豪赫亨胡霍吉加贾杰"
                 "卡凯坎康柯科肯库拉莱兰朗劳勒雷里利林隆卢鲁罗洛马迈曼梅蒙米莫穆纳南内尼宁努诺帕潘佩彭皮普齐乔萨塞桑森沙"
                 "绍施苏索塔泰坦唐陶特提图托瓦万威韦维温沃乌西希谢辛亚扬耶伊尤扎泽詹佐")
TAILS = list("尔斯克特森松伦林曼蒂恩茨朗雷洛娜亚")
GIVEN = ("卡里姆 约纳斯 马蒂亚斯 塞巴斯蒂安 阿德里安 托马斯 尤素福 拉斐尔 米哈伊尔 埃米尔 丹尼尔 卢卡斯 菲利普 奥马尔 "
         "伊万 马库斯 西蒙 安德烈亚斯 诺亚 阿明 萨米尔 雷米 朱利安 克里斯托夫 弗洛里安 本杰明 维克托 伊利亚斯 阿尔内 "
         "扬 帕特里克 斯特凡 马尔科 亚历山大 奥利弗 蒂莫 伊桑 米洛什 哈坎 洛伦佐 恩佐 乔纳森 拉米 泰奥").split()
OFFICIAL_GIVEN = ("玛丽 索菲 安娜 伊莎贝尔 卡特琳 让 皮埃尔 米歇尔 克劳斯 海因里希 彼得 伊丽莎白 詹姆斯 罗伯特 "
                  "卡洛斯 玛尔塔 朱塞佩 乔瓦尼 英格丽 拉尔斯 汉娜 露西 艾伦 戴维 莫妮卡 卡琳 弗朗索瓦 埃莱娜").split()

COUNTRIES = [  # country, dateline, region word, investigating body, leader title, town suffixes
    ("法国", "巴黎", "省", "国家反恐检察院", "总统", ["", "-圣{s}", "堡", "维尔"]),
    ("德国", "柏林", "州", "联邦总检察院", "总理", ["堡", "豪森", "巴赫", "多夫"]),
    ("比利时", "布鲁塞尔", "省", "联邦检察院", "首相", ["", "海姆", "-{s}"]),
    ("英国", "伦敦", "郡", "反恐警察部门", "首相", ["菲尔德", "顿", "伯里", "斯特"]),
    ("西班牙", "马德里", "自治区", "国家高等法院", "首相", ["", "-德{s}"]),
    ("意大利", "罗马", "大区", "反黑反恐检察院", "总理", ["", "-{s}"]),
    ("瑞典", "斯德哥尔摩", "省", "国家检察署", "首相", ["斯塔德", "雪平", "博"]),
    ("奥地利", "维也纳", "州", "国家检察署", "总理", ["多夫", "堡", "巴赫"]),
    ("澳大利亚", "悉尼", "州", "联邦警察局", "总理", ["顿", "维尔", "菲尔德"]),
    ("加拿大", "渥太华", "省", "皇家骑警", "总理", ["维尔", "顿", "堡"]),
    ("美国", "纽约", "州", "联邦调查局", "总统", ["维尔", "顿", "斯普林斯", "伯格"]),
]

KINDS = {  # event, short name, act
    "knife": ("持刀袭击", "持刀袭击", "持刀行凶"),
    "gun": ("枪击", "枪击", "开枪射击"),
    "vehicle": ("驾车冲撞人群", "冲撞", "驾车冲撞人群"),
    "bomb": ("爆炸", "爆炸", "引爆爆炸装置"),
    "arson": ("纵火", "纵火", "纵火"),
}
CHARGES = {"knife": "恐怖主义谋杀", "gun": "多项谋杀", "vehicle": "恐怖主义谋杀", "bomb": "制造爆炸", "arson": "纵火和谋杀未遂"}

VENUES = {  # venue kind: what the place looked like at the time
    "中央火车站": ["聚集着等候的乘客", "人来人往"],
    "露天集市": ["正值周末赶集", "挤满了买菜的居民"],
    "购物中心": ["正值周末购物高峰", "有数百名顾客"],
    "中学": ["许多学生正在放学", "家长们正在校门口等候"],
    "公交总站": ["聚集着等候的乘客", "几辆公交车正在上下客"],
    "音乐节现场": ["挤满了观众", "正举行一场露天演出"],
    "体育馆": ["一场篮球赛刚刚散场", "挤满了观众"],
    "市政厅前广场": ["正举行一场庆祝活动", "不少家庭在游玩"],
    "圣诞市场": ["不少家庭在游玩", "挤满了游客"],
    "步行街": ["游人如织", "正值周末购物高峰"],
    "地铁站": ["站台上挤满了乘客", "聚集着等候的乘客"],
    "大学图书馆": ["不少学生正在自习", "正举办一场讲座"],
    "社区活动中心": ["正举办一场老年舞蹈课", "不少家庭在参加义卖"],
    "港口客运码头": ["聚集着等候登船的旅客", "一艘渡轮刚刚靠岸"],
    "美食节现场": ["游人如织", "不少家庭在游玩"],
}
TIMES_OF_DAY = [("上午", range(8, 12)), ("中午", range(12, 13)), ("下午", range(1, 6)), ("晚上", range(7, 11))]
JOBS = ["一名失业的前保安", "{x}物流公司的送货司机", "{x}大学的在读学生", "{x}餐厅的厨师", "{x}超市的理货员",
        "一名无固定职业者", "一名出租车司机", "{x}建筑公司的临时工", "一名退伍军人", "{x}软件公司的程序员",
        "{x}健身房的教练", "{x}中学的代课教师", "一名水管工", "{x}仓库的管理员", "一名快递员", "{x}电力公司的电工"]
RECORDS = ["曾因盗窃被判处{n}个月监禁", "曾因故意伤害被判处{n}个月监禁", "曾因非法持有武器被判处{n}个月监禁",
           "曾因贩毒被判处{n}个月监禁", "曾因抢劫被判处{n}个月监禁", "曾因纵火未遂被判处{n}个月监禁"]
EVIDENCE = ["一本写满{x}的笔记本", "{n}部未登记的手机", "一台存有{x}的笔记本电脑", "{n}个装满汽油的塑料桶",
            "一份手绘的{place}平面图", "{n}把管制刀具", "一张写有{x}的便条"]
EVIDENCE_X = ["极端口号", "作案路线", "袭击目标名单", "化学配方", "倒计时日程", "陌生人电话号码"]
UNITS = ["两名巡逻警察", "一名休班警察", "赶到现场的特警队员", "几名路人和一名保安", "一名下班途中的消防员",
         "现场的两名安保人员", "骑警巡逻队", "一名便衣警察"]
VICTIMS = [("一名{age}岁的女教师", 26, 60), ("一名{age}岁的退休邮递员", 62, 84), ("一名{age}岁的游客", 19, 75),
           ("一名{age}岁的护士", 23, 58), ("一名{age}岁的大学生", 18, 24), ("一名{age}岁的面包师", 20, 65)]
HELP = ["作案车辆", "藏身住所", "一部加密手机", "购买汽油的现金", "袭击现场的踩点照片", "一张伪造的身份证件"]
PREPARATIONS = ["多次到{venue}踩点", "在网上搜索过{venue}的营业时间", "清空了自己的银行账户", "向家人发送过告别短信",
                "在社交媒体上发布过威胁言论"]
GUNS = ["半自动步枪", "手枪", "猎枪", "霰弹枪"]
BLADES = ["厨刀", "匕首", "折叠刀", "砍刀"]
CARS = ["白色厢式货车", "灰色小型客车", "黑色越野车", "红色皮卡车", "蓝色面包车"]
BAGS = ["背包", "行李箱", "垃圾桶", "自行车筐"]
REPORTERS = "李骥志 唐霁 张章 徐永春 宋宇 彭纯 赵丁喆 刘向 林晓蔚 陈斌杰 单鹏 王卓伦 任珂 杨骏 孙晓玲 郭爽".split()

# domestic (public-safety incidents in invented cities and districts)
CITIES = "滨江 临州 青峰 云梦 安澜 泸川 凤台 南屏 禹城 兴安".split()
DISTRICTS = "城东 城西 河北 新港 高新 望江 金山 湖滨 北郊 南湖 滨海 临河 龙泉 松岭 桃园 新华 红旗 朝阳 文昌 东塔".split()
STREETS = "建设路 解放大街 人民路 和平里 迎宾大道 中山路 光明街 幸福路 民主路 胜利街 朝阳巷 文化路 育才路 滨河路 " \
          "长青路 工农路 团结街 友谊路 兴华街 振兴路".split()
DOMESTIC_VENUES = ["菜市场", "公交车站", "小学门口", "商业广场", "夜市", "地下通道", "超市入口", "社区诊所", "网吧", "早餐店"]
DOMESTIC_KINDS = {"knife": ("持刀伤人", "持刀伤人"), "vehicle": ("驾车冲撞行人", "驾车冲撞"), "arson": ("故意纵火", "纵火")}
DOMESTIC_ACTS = {"knife": "持刀砍伤多名路人", "vehicle": "驾驶一辆小型轿车冲撞行人", "arson": "泼洒汽油点燃了店铺"}
DISPUTES = ["租房押金纠纷", "工资拖欠纠纷", "邻里噪音矛盾", "感情纠纷", "债务纠纷", "停车位争执", "装修款纠纷",
            "家庭矛盾", "网络借贷纠纷", "宅基地纠纷"]
HOMES = ["湖南省邵东", "江西省丰城", "安徽省凤阳", "河南省固始", "四川省南部", "贵州省毕节", "广西壮族自治区陆川",
         "湖北省监利", "山东省曹县", "河北省阜平", "甘肃省会宁", "云南省镇雄", "福建省仙游", "黑龙江省海伦",
         "陕西省洛川", "江苏省沭阳", "浙江省苍南", "山西省岢岚", "吉林省梨树", "辽宁省新宾"]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘")
GIVEN_CN = ["建平", "国华", "志强", "秀英", "立新", "海涛", "晓红", "文军", "春生", "明辉", "玉兰", "德胜", "永刚", "丽娟",
            "金龙", "凤霞", "学勤", "振东", "桂芳", "红梅", "卫国", "淑珍", "建军", "雪梅", "俊杰", "静", "磊", "敏", "伟", "芳"]
SHOPS = ["水果店", "理发店", "五金店", "便利店", "药店", "面馆", "烟酒店", "手机店", "花店", "干洗店"]
QUOTES = ["当时听到外面有人喊救命，我赶紧拉下了卷帘门。", "我看到好几个人往我店里跑，有人身上都是血。",
          "前后也就两三分钟，警察来得很快。", "平时这里人挺多的，谁也没想到会出这种事。",
          "我帮着把一个受伤的老人扶进店里，用毛巾给他按住伤口。", "一开始以为是放鞭炮，后来才知道出事了。"]


# sentences any report on the beat may carry: they make the stories look alike, as real reports do
BACKGROUND = {
    "lead": ["这是{country}今年以来发生的又一起针对人员密集场所的袭击事件。", "事件发生后，警方迅速封锁了现场周边道路，并疏散了附近居民。",
             "目前，当地已在周边街区增派警力，事件性质仍在调查中。", "当地媒体播放的画面显示，现场拉起了警戒线，多辆警车和救护车停在附近。"],
    "scene": ["有目击者用手机拍下了事发时的画面，视频显示现场人群惊慌失措。", "附近商铺纷纷关门，不少顾客被困在店内一个多小时。",
              "一名目击者对当地电视台说，她听到尖叫声后看到人们朝四面八方奔跑。", "警方随后封锁了周边街道，并要求附近居民待在家中。"],
    "arrest": ["警方说，嫌疑人在被捕时没有进行反抗。", "他此前并未被列入情报部门的监控名单。", "警方正在核实嫌疑人是否有精神病史。",
               "警方表示，目前没有迹象显示还有其他人参与作案。"],
    "care": ["医院启动了紧急预案，并呼吁市民前往献血。", "当地红十字会派出心理专家，为目击者和遇难者家属提供心理疏导。",
             "部分轻伤者在接受包扎后已经回家。"],
    "probe": ["检方表示，不排除此案带有恐怖主义性质。", "调查人员正在分析嫌疑人的手机和社交媒体账户。",
              "警方呼吁目击者提供线索，并公布了举报电话。"],
    "reaction": ["多国领导人发表声明，谴责这一暴力行为。", "当地宗教和社区团体呼吁民众保持冷静，不要传播未经证实的消息。",
                 "不少民众自发来到现场献花，悼念遇难者。"],
    "domestic": ["目前，伤者情绪稳定，案件正在进一步调查中。", "警方提醒广大市民，如发现可疑情况请及时拨打110报警。",
                 "事发后，现场周边交通一度受到影响，目前已恢复正常。", "当地相关部门已对受伤群众开展心理疏导和生活救助。"],
}


def _pad(rng: random.Random, paragraph: str, kind: str, **values) -> str:
    """A paragraph with zero to two of the beat's stock sentences appended."""
    extra = rng.sample(BACKGROUND[kind], rng.choice([0, 1, 1, 2]))
    return paragraph + "".join(e.format(**values) for e in extra)


def _tiny_name(rng: random.Random, low: int, high: int, tail: bool = True) -> str:
    core = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(low, high)))
    return core + (rng.choice(TAILS) if tail and rng.random() < 0.6 else "")


def _bare(phrase: str) -> str:
    """「一名厨师」 → 「厨师」: an answer without its counting word."""
    return phrase[2:] if phrase[:2] in ("一名", "一家", "一个", "一把", "一支", "一辆") else phrase


@dataclass
class Names:
    """Draws invented names that occur once in the whole set (none inside another)."""
    rng: random.Random
    used: set = field(default_factory=set)

    def fresh(self, make) -> str:
        for _ in range(1000):
            name = make()
            if name not in self.used and not any(name in u or u in name for u in self.used):
                self.used.add(name)
                return name
        raise RuntimeError("no fresh name")

    def town(self, suffixes) -> str:
        def make():
            suffix = self.rng.choice(suffixes)
            return _tiny_name(self.rng, 2, 3) + suffix.format(s=_tiny_name(self.rng, 2, 2, tail=False))
        return self.fresh(make)

    def person(self, given=GIVEN) -> str:
        return self.fresh(lambda: f"{self.rng.choice(given)}·{_tiny_name(self.rng, 2, 3)}")

    def chinese(self) -> str:
        return self.fresh(lambda: self.rng.choice(SURNAMES) + self.rng.choice(GIVEN_CN))


@dataclass
class Article:
    id: str
    incident: int
    title: str
    paragraphs: list[str]
    date: str
    facts: dict = field(default_factory=dict)  # fact -> (answer, [(question, anchor), …])

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


class Pools:
    """Values mostly drawn without replacement, so that numbers and dates tell the incidents apart."""

    def __init__(self, rng: random.Random, international: int = N_INTERNATIONAL):
        more = 2 * max(0, international - N_INTERNATIONAL)  # a larger archive draws from wider pools
        self.local_injured = rng.sample(range(3, 30), N_DOMESTIC)  # a local incident hurts fewer people
        self.injured = [n for n in rng.sample(range(5, 99 + more), 94 + more) if n not in self.local_injured]
        self.ages = [rng.randint(17, 66) for _ in range(100 + more)]  # an age question is kept only if unique
        self.dates = rng.sample([(m, d) for m in range(1, 13) for d in range(1, 29)], min(336, 90 + more))
        self.lengths = rng.sample(range(12, 60 + more), 48 + more)
        self.mourners = rng.sample(range(200, 5000 + 50 * more, 50), 60 + more)
        self.homes = rng.sample(HOMES, len(HOMES))


def _victim(rng: random.Random) -> str:
    text, youngest, oldest = rng.choice(VICTIMS)
    return text.format(age=rng.randint(youngest, oldest))


def _day(month: int, day: int, later: int) -> tuple[int, int]:
    date = datetime.date(2023, month, day) + datetime.timedelta(days=later)
    return date.month, date.day


# ---------------------------------------------------------------- international incidents

@dataclass
class Incident:
    number: int
    country: tuple
    town: str
    region: str
    kind: str
    venue_kind: str
    venue: str
    values: dict


def incident(rng: random.Random, names: Names, pools: Pools, number: int, earlier: list[Incident]) -> Incident:
    alone = [i for i in earlier if not i.values["shared_town"]]
    first = None
    if alone and sum(i.values["shared_town"] == "second" for i in earlier) < SAME_TOWN and rng.random() < 0.2:
        first = rng.choice(alone)
        first.values["shared_town"] = "first"
        country, town, region = first.country, first.town, first.region
        kind = rng.choice([k for k in KINDS if k != first.kind])
    else:
        country = rng.choice(COUNTRIES)
        town = names.town(country[5])
        region = names.fresh(lambda: _tiny_name(rng, 2, 3)) + country[2]
        kind = rng.choice(list(KINDS))
    venue_kind = rng.choice([v for v in VENUES if first is None or v != first.venue_kind])
    venue = names.fresh(lambda: _tiny_name(rng, 2, 3, tail=False)) + venue_kind if rng.random() < 0.6 else town + venue_kind
    if any(i.venue == venue for i in earlier):
        venue = names.fresh(lambda: _tiny_name(rng, 2, 3, tail=False)) + venue_kind
    month, day = pools.dates.pop()
    part, hours = rng.choice(TIMES_OF_DAY)
    length = pools.lengths.pop()
    values = dict(
        month=month, day=day, part=part, hour=rng.choice(list(hours)), minute=rng.choice(range(5, 60, 5)),
        dead=rng.randint(0, 6), injured=pools.injured.pop(), serious=rng.randint(1, 4),
        suspect=names.person(), age=pools.ages.pop(), origin=names.town(country[5]),
        job=rng.choice(JOBS).format(x=names.fresh(lambda: _tiny_name(rng, 2, 2, tail=False))),
        minutes=rng.randint(2, 45), unit=rng.choice(UNITS),
        hospital=names.fresh(lambda: rng.choice(["圣{n}医院", "{n}大学附属医院", "{n}综合医院", "{n}急救中心"]).format(
            n=_tiny_name(rng, 2, 3, tail=False))),
        prosecutor=names.person(OFFICIAL_GIVEN), mayor=names.person(OFFICIAL_GIVEN),
        leader=names.person(OFFICIAL_GIVEN), minister=names.person(OFFICIAL_GIVEN),
        reporter=rng.choice(REPORTERS),
        weapon={"knife": f"一把刃长约{length}厘米的{rng.choice(BLADES)}", "gun": f"一支{rng.choice(GUNS)}",
                "vehicle": f"一辆{rng.choice(CARS)}", "bomb": f"一个藏在{rng.choice(BAGS)}里的自制爆炸装置",
                "arson": f"{length}升汽油"}[kind],
        record=rng.choice(RECORDS).format(n=rng.choice([6, 8, 10, 14, 18, 20, 30])),
        evidence=rng.choice(EVIDENCE).format(n=rng.randint(2, 9), x=rng.choice(EVIDENCE_X), place=venue),
        closed=_day(month, day, rng.randint(3, 9)), flag_days=rng.randint(2, 7),
        victim=_victim(rng), crowd=rng.choice(VENUES[venue_kind]),
        accomplice=names.person(), accomplice_age=rng.randint(18, 60), help=rng.choice(HELP),
        preparation=rng.choice(PREPARATIONS).format(venue=venue), days_before=rng.randint(2, 20),
        mourners=pools.mourners.pop(), later=rng.randint(2, 6), cities=rng.randint(3, 40),
        shared_town="second" if first else "")
    return Incident(number, country, town, region, kind, venue_kind, venue, values)


def first_report(rng: random.Random, inc: Incident, article_id: str) -> Article:
    v = inc.values
    country, dateline, _, prosecutors, leader_title, _ = inc.country
    event, short, act = KINDS[inc.kind]
    town, venue, region = inc.town, inc.venue, inc.region
    month, day = v["month"], v["day"]
    when = f"{v['part']}{v['hour']}时{v['minute']}分"
    casualties = f"{v['dead']}人死亡、{v['injured']}人受伤" if v["dead"] else f"{v['injured']}人受伤"
    suspect, surname = v["suspect"], v["suspect"].split("·")[1]
    weapon = v["weapon"]
    title = rng.choice([f"{country}{town}发生{event}事件 致{v['injured']}人受伤",
                        f"{country}{town}一{inc.venue_kind}发生{event} 嫌疑人被捕",
                        f"{country}一{inc.venue_kind}发生{event}事件", f"{country}发生{event}事件 多人伤亡",
                        f"{country}一男子在{town}{act}"])
    byline = f"新华社{dateline}{month}月{day}日电（记者 {v['reporter']}）"
    lead = rng.choice([
        f"{byline}{country}{region}{town}{day}日{v['part']}发生一起{event}事件，造成{casualties}。{country}警方说，嫌疑人已被控制。",
        f"{byline}据{country}媒体报道，{month}月{day}日{v['part']}，一名男子在{country}{region}{town}的{venue}{act}，"
        f"造成{casualties}，其中{v['serious']}人伤势严重。",
        f"{byline}{country}{town}市政当局{day}日证实，当天{v['part']}发生在{venue}的{event}事件已造成{casualties}。"])
    scene_act = {"knife": f"嫌疑人手持{weapon}，从背后袭击路人", "gun": f"嫌疑人手持{weapon}向人群连续开枪",
                 "vehicle": f"嫌疑人驾驶{weapon}高速驶入人群，蛇行冲撞了约两百米",
                 "bomb": f"{weapon}突然爆炸，现场浓烟滚滚", "arson": f"嫌疑人将{weapon}泼洒在入口处后点燃"}[inc.kind]
    scene = rng.choice([
        f"据{town}警方介绍，事发时间为当地时间{when}左右，{venue}{v['crowd']}。{scene_act}，现场一片混乱。",
        f"目击者说，当地时间{when}前后，{venue}{v['crowd']}，{scene_act}。人们四散奔逃，有人躲进了附近的商店。",
        f"{town}警方公布的时间线显示，{scene_act}，时间是当地时间{when}。当时{venue}{v['crowd']}。"])
    arrest = rng.choice([
        f"{v['minutes']}分钟后，{v['unit']}赶到现场将嫌疑人制服。检方随后公布了嫌疑人身份：{suspect}，{v['age']}岁，"
        f"出生在{v['origin']}，是{v['job']}。",
        f"警方确认，嫌疑人名叫{suspect}，现年{v['age']}岁，来自{v['origin']}，是{v['job']}。他在作案后约{v['minutes']}分钟被"
        f"{v['unit']}制服并逮捕。",
        f"据{town}警方通报，{v['unit']}在事发{v['minutes']}分钟后将嫌疑人控制。嫌疑人{suspect}今年{v['age']}岁，"
        f"{v['origin']}人，是{v['job']}。"])
    care = rng.choice([
        f"伤者被送往{v['hospital']}救治。{region}卫生部门说，{v['serious']}名重伤者仍未脱离生命危险"
        + (f"，遇难者中包括{v['victim']}。" if v["dead"] else "。"),
        f"{v['hospital']}当晚收治了大部分伤者，医院方面说其中{v['serious']}人伤势严重。"
        + (f"当地媒体报道，遇难者中有{v['victim']}。" if v["dead"] else "其余伤者多为轻伤。"),
        f"救护人员在{venue}外搭起临时救治点，随后把伤者转往{v['hospital']}。{region}急救部门说，{v['serious']}人需要手术。"])
    probe = rng.choice([
        f"{country}{prosecutors}已接手调查。检察官{v['prosecutor']}在新闻发布会上说，{surname}此前{v['record']}，"
        f"调查人员在其住所搜出{v['evidence']}，作案动机仍在调查中。",
        f"负责此案的检察官{v['prosecutor']}说，{surname}{v['record']}，警方在搜查其住处时发现了{v['evidence']}。"
        f"{prosecutors}正在调查他是否有同伙。"])
    close_m, close_d = v["closed"]
    reaction = rng.choice([
        f"{country}{leader_title}{v['leader']}当天在社交媒体上对遇难者表示哀悼。{town}市长{v['mayor']}宣布全市降半旗"
        f"{v['flag_days']}天，{venue}将关闭至{close_m}月{close_d}日。",
        f"{town}市长{v['mayor']}说，全市将降半旗{v['flag_days']}天，{venue}关闭至{close_m}月{close_d}日。"
        f"{country}{leader_title}{v['leader']}表示，政府将加强公共场所的安保。"])
    lead, scene, arrest = _pad(rng, lead, "lead", country=country), _pad(rng, scene, "scene"), _pad(rng, arrest, "arrest")
    care, probe, reaction = _pad(rng, care, "care"), _pad(rng, probe, "probe"), _pad(rng, reaction, "reaction")
    paragraphs = [lead, scene, arrest, care, probe, reaction]
    if rng.random() < 0.3:
        paragraphs.pop(rng.choice([4, 5]))
    article = Article(article_id, inc.number, title, paragraphs, f"2023-{month:02d}-{day:02d}")
    ts = f"{town}{short}"
    article.facts = {
        "suspect": (suspect, [(f"{ts}案的嫌疑人叫什么名字？", town), (f"在{venue}{act}的男子是谁？", venue),
                              (f"{town}{event}事件中被捕的嫌疑人叫什么？", town)]),
        "age": (f"{v['age']}岁", [(f"{suspect}今年多大？", suspect), (f"{ts}案嫌疑人多少岁？", town),
                                 (f"{suspect}的年龄是多少？", suspect)]),
        "origin": (v["origin"], [(f"{suspect}是哪里人？", suspect), (f"{ts}案的嫌疑人来自哪里？", town)]),
        "job": (_bare(v["job"]), [(f"{suspect}是做什么工作的？", suspect), (f"{ts}案嫌疑人的职业是什么？", town),
                                  (f"{suspect}是什么身份？", suspect)]),
        "hospital": (v["hospital"], [(f"{ts}的伤者被送往哪家医院？", town), (f"{venue}事件的伤者在哪家医院接受救治？", venue)]),
        "injured": (f"{v['injured']}人受伤", [(f"{ts}事件造成多少人受伤？", town), (f"{venue}的{event}一共造成几人受伤？", venue)]),
        "date": (f"{month}月{day}日", [(f"{ts}事件发生在哪一天？", town), (f"{venue}的{event}是几月几日发生的？", venue)]),
        "time": (f"{v['hour']}时{v['minute']}分", [(f"{ts}发生在当地时间几点？", town),
                                                 (f"{venue}事发的具体时间是几点几分？", venue)]),
        "weapon": (_bare(weapon), [(f"{ts}案嫌疑人使用了什么作案工具？", town), (f"在{venue}作案的男子用的是什么？", venue)]),
        "minutes": (f"{v['minutes']}分钟", [(f"{ts}的嫌疑人作案后多久被制服？", town),
                                           (f"{suspect}在作案多少分钟后被控制？", suspect)]),
        "unit": (v["unit"], [(f"是谁制服了{ts}案的嫌疑人？", town), (f"{suspect}是被谁制服的？", suspect)]),
    }
    if probe in paragraphs:
        article.facts.update({
            "prosecutor": (v["prosecutor"], [(f"哪位检察官负责{ts}案？", town),
                                             (f"在发布会上介绍{surname}案情的检察官是谁？", surname)]),
            "record": (v["record"], [(f"{surname}过去有什么犯罪记录？", surname), (f"{ts}案嫌疑人此前因什么被判刑？", town)]),
            "evidence": (v["evidence"], [(f"警方在{surname}的住所搜出了什么？", surname),
                                         (f"调查人员在{ts}案嫌疑人家里发现了什么？", town)])})
    if reaction in paragraphs:
        article.facts.update({
            "mayor": (v["mayor"], [(f"{town}市长叫什么名字？", town), (f"宣布为{ts}事件降半旗的市长是谁？", town)]),
            "closure": (f"{close_m}月{close_d}日", [(f"{venue}将关闭到哪一天？", venue),
                                                    (f"{ts}事件后{venue}关闭至何时？", venue)]),
            "flag": (f"降半旗{v['flag_days']}天", [(f"{town}为{short}事件降半旗多少天？", town)])})
    return article


def follow_up(rng: random.Random, inc: Incident, article_id: str) -> Article:
    """A second report a few days later: the charge, an accomplice, the vigil, the government's response."""
    v = inc.values
    country, _, _, prosecutors, _, _ = inc.country
    event, short, _ = KINDS[inc.kind]
    town, venue = inc.town, inc.venue
    month, day = v["month"], v["day"]
    month2, day2 = _day(month, day, v["later"])
    suspect, surname = v["suspect"], v["suspect"].split("·")[1]
    casualties = f"{v['dead']}人死亡、{v['injured']}人受伤" if v["dead"] else f"{v['injured']}人受伤"
    charge = CHARGES[inc.kind]
    where = venue if venue.startswith(town) else town + venue
    title = rng.choice([f"{town}{short}案嫌疑人被正式起诉", f"{country}{town}民众悼念{short}事件遇难者",
                        f"{country}{short}案调查取得进展 一名同伙被捕"])
    outlet = rng.choice(["中新网", "央视新闻客户端", "环球时报"])
    lead = rng.choice([
        f"{outlet}{month2}月{day2}日电 据{country}媒体报道，{country}检方{day2}日以涉嫌{charge}罪对{month}月{day}日"
        f"{town}{event}事件嫌疑人{suspect}正式提起诉讼。这起发生在{venue}的事件共造成{casualties}。",
        f"{outlet}{month2}月{day2}日电 {country}检方{day2}日宣布，{month}月{day}日在{where}{KINDS[inc.kind][2]}、"
        f"造成{casualties}的{suspect}被控{charge}罪，案件将移交法院审理。"])
    accomplice = rng.choice([
        f"检方说，{surname}在作案前{v['days_before']}天曾{v['preparation']}。调查人员还逮捕了一名{v['accomplice_age']}岁的男子"
        f"{v['accomplice']}，怀疑他为袭击提供了{v['help']}。",
        f"调查显示，{surname}作案前{v['days_before']}天{v['preparation']}。警方随后逮捕了{v['accomplice_age']}岁的"
        f"{v['accomplice']}，他被怀疑向{surname}提供了{v['help']}。"])
    vigil = rng.choice([
        f"{day2}日晚，约{v['mourners']}名民众自发来到{venue}，点燃蜡烛、摆放鲜花，悼念遇难者、为伤者祈福。",
        f"当天，{town}举行了悼念活动，约{v['mourners']}名民众聚集在{venue}外默哀，不少人在现场留下鲜花和卡片。"])
    response = rng.choice([
        f"{country}内政部长{v['minister']}表示，政府将在全国{v['cities']}个城市增派警力，加强人员密集场所的安保。",
        f"{country}内政部长{v['minister']}说，事件发生后，全国{v['cities']}个城市已提高安全警戒级别。"])
    paragraphs = [lead, accomplice, vigil] + ([response] if rng.random() < 0.7 else [])
    article = Article(article_id, inc.number, title, paragraphs, f"2023-{month2:02d}-{day2:02d}")
    ts = f"{town}{short}"
    article.facts = {
        "accomplice": (v["accomplice"], [(f"{ts}案中，哪名男子因涉嫌提供帮助被捕？", town),
                                         (f"被怀疑向{surname}提供帮助的人是谁？", surname)]),
        "help": (v["help"], [(f"{v['accomplice']}涉嫌为嫌疑人提供了什么？", v["accomplice"]),
                             (f"{surname}的同伙为他提供了什么？", surname)]),
        "preparation": (v["preparation"], [(f"{surname}作案前做了什么准备？", surname)]),
        "mourners": (f"{v['mourners']}名民众", [(f"有多少人参加了{venue}的悼念活动？", venue),
                                                (f"{town}悼念{short}事件遇难者的活动有多少人参加？", town)]),
        "charge": (f"{charge}罪", [(f"{suspect}被以什么罪名起诉？", suspect)]),
        "charged": (f"{month2}月{day2}日", [(f"{suspect}是哪一天被正式起诉的？", suspect)]),
    }
    if response in paragraphs:
        article.facts["minister"] = (v["minister"], [(f"{ts}事件后宣布加强安保的内政部长是谁？", town)])
    return article


# ---------------------------------------------------------------- domestic incidents

def domestic(rng: random.Random, names: Names, pools: Pools, number: int, place: tuple, article_id: str) -> Article:
    city, district, street = place
    kind = rng.choice(list(DOMESTIC_KINDS))
    event, short = DOMESTIC_KINDS[kind]
    venue = rng.choice(DOMESTIC_VENUES)
    month, day = pools.dates.pop()
    part, hours = rng.choice(TIMES_OF_DAY)
    when = f"{part}{rng.choice(list(hours))}时{rng.choice(range(5, 60, 5))}分"
    injured = pools.local_injured.pop()
    dead, serious = rng.randint(0, 3), rng.randint(1, min(5, injured))
    surname, age, home = rng.choice(SURNAMES), pools.ages.pop(), pools.homes.pop()
    dispute = rng.choice(DISPUTES)
    hospital = rng.choice([f"{city}市{district}医院", f"{district}区人民医院", f"{district}区中医院"])
    witness, official, reporter = names.chinese(), names.chinese(), names.chinese()
    shop = rng.choice(SHOPS)
    checks = rng.randint(12, 99)
    casualties = f"{dead}人死亡、{injured}人受伤" if dead else f"{injured}人受伤"
    title = rng.choice([f"{city}{district}区{street}发生{event}案件 嫌疑人被控制",
                        f"{city}警方通报一起{short}案件：{injured}人受伤",
                        f"{district}区一{venue}发生{event}事件"])
    outlet = rng.choice(["中新网", "央视网消息", "本报讯"])
    byline = f"{outlet}{city}{month}月{day}日电（记者 {reporter}）" if outlet == "中新网" else f"{outlet}（记者 {reporter}）"
    lead = rng.choice([
        f"{byline}{month}月{day}日{part}，{city}市{district}区{street}一{venue}附近发生一起{event}案件，造成{casualties}。",
        f"{byline}据{city}市公安局{district}分局{month}月{day}日发布的警情通报，当日{when}许，{city}市{district}区{street}"
        f"{venue}发生一起{event}案件，造成{casualties}。"])
    act = DOMESTIC_ACTS[kind]
    suspect = rng.choice([
        f"警方通报称，犯罪嫌疑人{surname}某（男，{age}岁，{home}人）因{dispute}心生不满，在{venue}{act}，已被现场民警控制。",
        f"经初步调查，犯罪嫌疑人{surname}某，男，{age}岁，{home}人，因{dispute}{act}。{district}分局民警接警后迅速赶到，"
        f"将其当场抓获。"])
    care = rng.choice([
        f"事发后，{district}区立即启动应急预案，伤者被送往{hospital}全力救治，其中{serious}人伤势较重，其余人员无生命危险。",
        f"{hospital}相关负责人介绍，医院共接收{street}事件伤者{injured}名，其中{serious}人伤势较重，已组织专家会诊。"])
    account = rng.choice([f"在{street}经营{shop}的{witness}告诉记者：“{rng.choice(QUOTES)}”",
                          f"事发地附近{shop}的店主{witness}回忆：“{rng.choice(QUOTES)}”"])
    follow = rng.choice([
        f"{district}区副区长{official}表示，区里已成立善后工作组，对辖区{checks}处人员密集场所开展安全隐患排查。",
        f"记者从{district}区了解到，由副区长{official}牵头的工作组已连夜排查辖区{checks}处人员密集场所，案件正在进一步侦办中。"])
    lead, care, follow = _pad(rng, lead, "domestic"), _pad(rng, care, "domestic"), _pad(rng, follow, "domestic")
    article = Article(article_id, number, title, [lead, suspect, care, account, follow], f"2023-{month:02d}-{day:02d}")
    ds = f"{district}区{street}"
    article.facts = {
        "injured": (f"{injured}人受伤", [(f"{ds}{short}案件造成几人受伤？", street),
                                        (f"{city}{district}区{venue}事件有多少人受伤？", district)]),
        "age": (f"{age}岁", [(f"{ds}{short}案的嫌疑人多大年纪？", venue), (f"{district}区{venue}案件嫌疑人多少岁？", venue)]),
        "home": (home, [(f"{ds}{short}案的嫌疑人是哪里人？", venue),
                        (f"{district}区{venue}{short}案件的犯罪嫌疑人籍贯是哪里？", venue)]),
        "dispute": (dispute, [(f"{district}区{venue}{short}案件的起因是什么？", venue),
                              (f"{street}{venue}的嫌疑人为什么行凶？", venue)]),
        "hospital": (hospital, [(f"{ds}{short}案件的伤者被送到哪家医院？", district),
                                (f"{district}区{venue}事件的伤者在哪里救治？", district)]),
        "witness": (witness, [(f"{street}附近哪位店主向记者讲述了事发经过？", street) if street in account
                              else (f"{district}区{venue}事发地附近的哪位店主接受了采访？", shop),
                              (f"事发地附近开{shop}的店主叫什么名字？", shop)]),
        "official": (official, [(f"{district}区负责善后工作的副区长是谁？", district),
                                (f"{city}{district}区哪位副区长牵头安全排查？", district)]),
        "checks": (f"{checks}处", [(f"{district}区事后排查了多少处人员密集场所？", district)]),
        "date": (f"{month}月{day}日", [(f"{ds}{short}案件发生在哪一天？", street)]),
    }
    return article


# ---------------------------------------------------------------- the set

def build(seed: int = SEED, international: int = N_INTERNATIONAL) -> tuple[list[Article], list[dict]]:
    """The articles and questions; ``international`` above the default makes a larger archive on the same beat."""
    rng = random.Random(seed)
    names, pools = Names(rng), Pools(rng, international)
    for word in CITIES + DISTRICTS + STREETS:
        names.used.add(word)
    cities = rng.sample(CITIES, len(CITIES))
    places = [(cities[i % len(cities)], d, s) for i, (d, s) in
              enumerate(zip(rng.sample(DISTRICTS, N_DOMESTIC), rng.sample(STREETS, N_DOMESTIC)))]
    kinds = ["i"] * international + ["d"] * N_DOMESTIC
    rng.shuffle(kinds)
    articles: list[Article] = []
    incidents: list[Incident] = []
    pending: list[Incident] = []
    for number, kind in enumerate(kinds, start=1):
        article_id = f"NEWS_{len(articles) + 1:03d}"
        if kind == "d":
            articles.append(domestic(rng, names, pools, number, places.pop(), article_id))
        else:
            inc = incident(rng, names, pools, number, incidents)
            incidents.append(inc)
            articles.append(first_report(rng, inc, article_id))
            if rng.random() < FOLLOW_UP_SHARE:
                pending.append(inc)
        if pending and rng.random() < 0.5:  # a follow-up appears a few stories later
            articles.append(follow_up(rng, pending.pop(0), f"NEWS_{len(articles) + 1:03d}"))
    for inc in pending:
        articles.append(follow_up(rng, inc, f"NEWS_{len(articles) + 1:03d}"))
    questions = []
    for article in articles:
        usable = []
        for fact, (answer, templates) in article.facts.items():
            holder = next((p for p in article.paragraphs if answer in p), None)
            others = [a.text for a in articles if a is not article and (fact not in SHARED or a.incident != article.incident)]
            if holder is None or any(answer in other for other in others):
                continue  # the answer must tell this incident apart (and mean the same wherever it occurs)
            fitting = [q for q, anchor in templates if anchor in holder or anchor in article.title]
            if fitting:
                usable.append((fact, answer, fitting))
        for fact, answer, fitting in rng.sample(usable, min(QUESTIONS_PER_ARTICLE, len(usable))):
            questions.append({"id": f"{article.id}_{fact}", "question": rng.choice(fitting), "answers": [answer],
                              "doc_id": article.id})
    corpus_text = "\n".join(a.title + "\n" + a.text for a in articles)
    for number in range(N_UNANSWERABLE):  # the same kinds of question about incidents the archive does not hold
        country = rng.choice(COUNTRIES)
        town = names.town(country[5])
        assert town not in corpus_text
        event, short, _ = KINDS[rng.choice(list(KINDS))]
        question = rng.choice([f"{town}{short}案的嫌疑人叫什么名字？", f"{town}{short}事件造成多少人受伤？",
                               f"{town}{short}的伤者被送往哪家医院？", f"{country[0]}{town}{event}事件发生在哪一天？",
                               f"{town}市长叫什么名字？"])
        questions.append({"id": f"UNANSWERABLE_{number:02d}", "question": question, "answers": [], "unanswerable": True})
    return articles, questions


def write(folder: Path = FOLDER, seed: int = SEED, international: int = N_INTERNATIONAL) -> tuple[int, int]:
    articles, questions = build(seed, international)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as handle:
        for a in articles:
            handle.write(json.dumps({"id": a.id, "title": a.title, "text": a.text, "date": a.date},
                                    ensure_ascii=False) + "\n")
    with (folder / "questions.jsonl").open("w", encoding="utf-8") as handle:
        for q in questions:
            handle.write(json.dumps(q, ensure_ascii=False) + "\n")
    return len(articles), len(questions)


if __name__ == "__main__":
    count, asked = write()
    print(f"{FOLDER}: {count} articles, {asked} questions")
