"""What the demo fit-out firm is made of: its people and clients, the kinds of projects it
runs in Istanbul, and for each project the bill of quantities, the task plan, the drawing
register and the material specifications. Written here (fictional clients and suppliers;
manufacturers are brands a specifier would name); `cli/seed.py` turns it into rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

ORG_SLUG = "formula-demo"
ORG_NAME = "Formula Interiors (demo)"
EMAIL_DOMAIN = "formula-demo.test"
# The demo's "today": statuses follow each project's timeline as seen on this date, so the
# demo reads the same on every machine and every day (it is deterministic).
TODAY = dt.date(2026, 3, 16)

PEOPLE = [  # first, last, role, position, department
    ("Selin", "Aydın", "admin", "Managing Director", "Management"),
    ("Murat", "Kaya", "project_manager", "Senior Project Manager", "Projects"),
    ("Elif", "Şahin", "project_manager", "Project Manager", "Projects"),
    ("Deniz", "Yılmaz", "designer", "Lead Interior Designer", "Design"),
    ("Zeynep", "Çelik", "designer", "Technical Designer", "Design"),
    ("Can", "Demir", "coordinator", "Site Coordinator", "Site"),
    ("Ahmet", "Öztürk", "craftsman", "Joinery Workshop Foreman", "Workshop"),
    ("Burak", "Arslan", "craftsman", "Electrician", "Site"),
    ("Oğuz", "Koç", "craftsman", "Painter and Decorator", "Site"),
]
CLIENT_USER = ("Kerem", "Aksoy", "Facilities Manager")  # signs in as the first client


@dataclass(frozen=True)
class Client:
    name: str
    company: str
    industry: str
    contact: str
    phone: str
    address: str


CLIENTS = [
    Client("Boğaziçi Bank", "Boğaziçi Yatırım Bankası A.Ş.", "Banking", "Kerem Aksoy",
           "+90 212 355 40 00", "Büyükdere Cad. No: 128, Levent"),
    Client("Lale Moda", "Lale Mağazacılık A.Ş.", "Retail", "Ece Karaca",
           "+90 212 230 18 18", "Abdi İpekçi Cad. No: 41, Nişantaşı"),
    Client("Galata Suites", "Galata Suites Otelcilik Ltd. Şti.", "Hospitality",
           "Tolga Erdem", "+90 212 252 70 70", "Kemankeş Cad. No: 9, Karaköy"),
    Client("Vadi Ofis", "Vadi Ofis Yönetimi A.Ş.", "Real estate", "Gizem Uçar",
           "+90 212 286 42 42", "Ahi Evran Cad. No: 42, Maslak"),
    Client("Anadolu Sağlık", "Anadolu Sağlık Hizmetleri A.Ş.", "Healthcare",
           "Dr. Levent Güneş", "+90 216 470 15 15", "Barbaros Mah. Halk Cad. No: 8, Ataşehir"),
    Client("Kahve Durağı", "Kahve Durağı Gıda ve İçecek A.Ş.", "Food & beverage",
           "Sinem Polat", "+90 216 345 12 12", "Moda Cad. No: 77, Kadıköy"),
]


@dataclass(frozen=True)
class ProjectKind:
    """One kind of job the firm does: `name` takes the site; `hero` is the piece of joinery
    the job is remembered by and `space` its main room; weeks from TODAY to the start."""

    name: str
    type: str
    client: int
    site: str
    hero: str
    space: str
    starts_in_weeks: int
    weeks: int
    on_hold: bool = False


PROJECT_KINDS = [
    ProjectKind("Boğaziçi Bank {site} Branch Fit-Out", "fit_out", 0, "Levent",
                "Cash counters", "Banking hall", -10, 16),
    ProjectKind("Lale Moda {site} Flagship Store", "retail", 1, "Nişantaşı",
                "Display shelving", "Sales floor", -6, 14),
    ProjectKind("Galata Suites {site} Lobby and Bar Renovation", "hospitality", 2, "Karaköy",
                "Bar counter", "Lobby", -30, 20),
    ProjectKind("Vadi Ofis {site} Head Office, Floors 12-14", "office", 3, "Maslak",
                "Reception desk", "Open office", 3, 24),
    ProjectKind("Anadolu Sağlık {site} Day Clinic", "healthcare", 4, "Ataşehir",
                "Nurse station", "Waiting area", -4, 18, on_hold=True),
    ProjectKind("Kahve Durağı {site} Coffee Bar", "commercial", 5, "Kadıköy",
                "Coffee bar counter", "Seating area", -2, 8),
    ProjectKind("Boğaziçi Bank {site} Private Banking Lounge", "fit_out", 0, "Beşiktaş",
                "Client lounge joinery", "Lounge", -40, 12),
    ProjectKind("Lale Moda {site} Mall Store", "retail", 1, "Şişli",
                "Cash wrap counter", "Sales floor", -1, 10),
]
# Sites of the same kinds of job once the eight above are used (bench-sized firms).
SITES = ["Levent", "Maslak", "Kadıköy", "Beşiktaş", "Ataşehir", "Nişantaşı", "Karaköy",
         "Şişli", "Bakırköy", "Üsküdar", "Sarıyer", "Etiler", "Moda", "Bebek", "Florya",
         "Kozyatağı"]


@dataclass(frozen=True)
class ScopeLine:
    code: str
    name: str  # "{hero}" and "{space}" take the project's
    unit: str
    quantity: tuple[int, int]
    unit_price: int  # TRY, before the project's own spread


@dataclass(frozen=True)
class ScopeGroup:
    name: str
    # The share of the project's timeline over which this trade's work gets done.
    window: tuple[float, float]
    lines: tuple[ScopeLine, ...]


SCOPE = (
    ScopeGroup("Construction", (0.05, 0.85), (
        ScopeLine("GC-01", "Strip-out of existing finishes", "lot", (1, 1), 180_000),
        ScopeLine("GC-02", "Gypsum board partition walls", "sqm", (120, 480), 1_450),
        ScopeLine("GC-03", "Porcelain floor tiling in the {space}", "sqm", (80, 400), 2_100),
        ScopeLine("GC-04", "Suspended acoustic ceiling", "sqm", (150, 600), 1_250),
        ScopeLine("GC-05", "Wall painting, two coats on primer", "sqm", (300, 1400), 320),
        ScopeLine("GC-06", "Frameless glass partitions", "sqm", (20, 90), 9_800),
    )),
    ScopeGroup("Millwork", (0.25, 0.95), (
        ScopeLine("MW-01", "{hero}", "pcs", (1, 3), 385_000),
        ScopeLine("MW-02", "Walnut veneer wall panelling", "sqm", (20, 110), 7_400),
        ScopeLine("MW-03", "Built-in storage units", "lm", (8, 40), 12_500),
        ScopeLine("MW-04", "Kitchenette cabinets with quartz worktop", "lm", (4, 12), 18_000),
        ScopeLine("MW-05", "Veneered doors with frames and ironmongery", "pcs", (4, 18), 42_000),
    )),
    ScopeGroup("Electrical", (0.15, 0.95), (
        ScopeLine("EL-01", "Lighting fixtures, supply and install", "pcs", (60, 260), 2_900),
        ScopeLine("EL-02", "Main distribution board", "pcs", (1, 2), 165_000),
        ScopeLine("EL-03", "Cat 6A data cabling", "m", (800, 4800), 95),
        ScopeLine("EL-04", "Emergency and exit lighting", "pcs", (12, 48), 3_400),
    )),
    ScopeGroup("Mechanical and plumbing", (0.1, 0.8), (
        ScopeLine("ME-01", "HVAC ductwork and grilles", "m", (60, 320), 1_900),
        ScopeLine("ME-02", "Ceiling fan coil units", "pcs", (4, 24), 58_000),
        ScopeLine("ME-03", "Plumbing for the kitchenette and WCs", "lot", (1, 1), 240_000),
        ScopeLine("ME-04", "Sprinkler heads relocated to the new ceiling", "pcs", (20, 120),
                  4_200),
    )),
)


@dataclass(frozen=True)
class TaskPlan:
    """A task of the plan: when it runs (shares of the project's timeline), its trade,
    who does it (a role, or a position word), the scope line it delivers, its hours."""

    name: str
    category: str
    window: tuple[float, float]
    doer: str
    scope: str | None
    hours: int


TASKS = (
    TaskPlan("Site survey and as-built measurements", "construction", (0.0, 0.04),
             "coordinator", None, 16),
    TaskPlan("Check the landlord's fit-out guidelines", "construction", (0.0, 0.05),
             "project_manager", None, 4),
    TaskPlan("Issue the general arrangement plan for approval", "design", (0.02, 0.08),
             "designer", None, 24),
    TaskPlan("Submit the fire-safety layout to building management", "design", (0.04, 0.1),
             "designer", "ME-04", 8),
    TaskPlan("Collect finish samples for the client's sign-off", "design", (0.05, 0.12),
             "designer", None, 6),
    TaskPlan("Strip out the existing ceiling and carpet", "construction", (0.06, 0.12),
             "coordinator", "GC-01", 40),
    TaskPlan("Detail the {hero} shop drawing", "millwork", (0.06, 0.14), "designer",
             "MW-01", 32),
    TaskPlan("Order walnut veneer panels", "millwork", (0.1, 0.14), "project_manager",
             "MW-02", 3),
    TaskPlan("Set out partition walls on site", "construction", (0.12, 0.16), "coordinator",
             "GC-02", 12),
    TaskPlan("Install partition framing", "construction", (0.14, 0.26), "coordinator",
             "GC-02", 60),
    TaskPlan("First-fix wiring in the partitions", "electric", (0.18, 0.3), "Electrician",
             "EL-01", 48),
    TaskPlan("Pull data cabling to the workstations", "electric", (0.2, 0.34), "Electrician",
             "EL-03", 56),
    TaskPlan("Install fan coil units and ductwork", "mep", (0.2, 0.38), "coordinator",
             "ME-02", 64),
    TaskPlan("Pressure-test the kitchenette plumbing", "mep", (0.3, 0.34), "coordinator",
             "ME-03", 6),
    TaskPlan("Relocate sprinkler heads to the new ceiling layout", "mep", (0.32, 0.4),
             "coordinator", "ME-04", 24),
    TaskPlan("Board and tape the partitions", "construction", (0.3, 0.42), "coordinator",
             "GC-02", 48),
    TaskPlan("Build the {hero} in the workshop", "millwork", (0.2, 0.55), "Foreman",
             "MW-01", 120),
    TaskPlan("Install the suspended ceiling grid", "construction", (0.4, 0.52),
             "coordinator", "GC-04", 40),
    TaskPlan("Lay porcelain tiles in the {space}", "construction", (0.42, 0.56),
             "coordinator", "GC-03", 56),
    TaskPlan("Prime and paint the walls, first coat", "construction", (0.5, 0.58),
             "Painter", "GC-05", 40),
    TaskPlan("Approve the glass partition shop drawing", "design", (0.3, 0.38),
             "project_manager", "GC-06", 4),
    TaskPlan("Fit glass partitions to the meeting rooms", "construction", (0.56, 0.64),
             "coordinator", "GC-06", 24),
    TaskPlan("Deliver the {hero} to site", "millwork", (0.58, 0.6), "Foreman", "MW-01", 8),
    TaskPlan("Install the {hero}", "millwork", (0.6, 0.68), "Foreman", "MW-01", 32),
    TaskPlan("Install walnut wall panelling", "millwork", (0.6, 0.72), "Foreman", "MW-02",
             48),
    TaskPlan("Fit kitchenette cabinets and worktop", "millwork", (0.64, 0.72), "Foreman",
             "MW-04", 24),
    TaskPlan("Hang doors and fit ironmongery", "millwork", (0.68, 0.76), "Foreman", "MW-05",
             28),
    TaskPlan("Second-fix lighting, sockets and switches", "electric", (0.66, 0.78),
             "Electrician", "EL-01", 48),
    TaskPlan("Commission the distribution board", "electric", (0.76, 0.8), "Electrician",
             "EL-02", 12),
    TaskPlan("Test emergency and exit lighting", "electric", (0.8, 0.82), "Electrician",
             "EL-04", 6),
    TaskPlan("Balance the HVAC system", "mep", (0.78, 0.84), "coordinator", "ME-01", 12),
    TaskPlan("Final coat of paint and touch-ups", "construction", (0.8, 0.88), "Painter",
             "GC-05", 32),
    TaskPlan("Install signage and wayfinding", "construction", (0.84, 0.88), "coordinator",
             None, 10),
    TaskPlan("Builder's clean before the snagging walk", "construction", (0.86, 0.9),
             "coordinator", None, 16),
    TaskPlan("Snagging walk with the client", "construction", (0.9, 0.92),
             "project_manager", None, 4),
    TaskPlan("Close out the snag list", "construction", (0.91, 0.97), "coordinator", None, 24),
    TaskPlan("Collect O&M manuals and warranties", "construction", (0.9, 0.98),
             "project_manager", None, 6),
    TaskPlan("Record as-built drawings", "design", (0.9, 0.98), "designer", None, 16),
    TaskPlan("Handover and key transfer", "construction", (0.98, 1.0), "project_manager",
             None, 3),
    TaskPlan("Send the final account to the client", "construction", (0.98, 1.0),
             "project_manager", None, 6),
)


# What every task of a trade asks for (the plan's names say what to do).
TASK_NOTES = {
    "construction": "Work to the approved drawings; record progress in the site diary with "
                    "photos.",
    "design": "Issue through the drawing register and note the client's comments.",
    "millwork": "Check dimensions against the site survey before cutting; workshop QA "
                "before dispatch.",
    "electric": "To the approved lighting and power layouts; test and label every circuit.",
    "mep": "Agree shutdowns with building management; record the test results.",
}


@dataclass(frozen=True)
class Sheet:
    number: str
    title: str  # "{hero}" and "{space}" take the project's
    drawing_type: str
    room: str | None
    approved_by: float  # share of the timeline by which it is approved


SHEETS = (
    Sheet("A-101", "General arrangement plan", "Architectural", None, 0.08),
    Sheet("A-102", "Partition setting-out plan", "Architectural", None, 0.12),
    Sheet("A-201", "Sections A-A and B-B", "Architectural", None, 0.14),
    Sheet("RCP-101", "Reflected ceiling plan", "Ceiling plan", None, 0.3),
    Sheet("FL-101", "Floor finishes plan", "Flooring plan", "{space}", 0.3),
    Sheet("ID-201", "{hero}: plan, elevations and details", "Millwork", "{space}", 0.16),
    Sheet("ID-202", "Millwork elevations: wall panelling", "Millwork", "{space}", 0.4),
    Sheet("ID-203", "Kitchenette millwork", "Millwork", "Kitchenette", 0.45),
    Sheet("ID-301", "Door schedule and ironmongery", "Millwork", None, 0.45),
    Sheet("ID-401", "Glass partition details", "Elevation", "Meeting room", 0.36),
    Sheet("E-101", "Lighting layout", "Electrical layout", None, 0.2),
    Sheet("E-102", "Power and data layout", "Electrical layout", None, 0.2),
    Sheet("M-101", "HVAC layout", "Mechanical layout", None, 0.22),
    Sheet("M-102", "Sprinkler layout", "Mechanical layout", None, 0.3),
    Sheet("SG-101", "Signage and wayfinding", "Elevation", "{space}", 0.7),
)


@dataclass(frozen=True)
class Material:
    code: str
    description: str
    category: str
    material: str
    finish: str
    manufacturer: str
    supplier: str
    unit: str
    quantity: tuple[int, int]
    unit_cost: int  # TRY
    lead_days: int
    needed_by: float  # share of the timeline by which it must be on site


MATERIALS = (
    Material("WD-01", "Walnut veneer panel, 19 mm MDF core", "Wood", "American walnut veneer",
             "Matt oiled", "Decospan", "Ahşap Dünyası Ltd.", "sqm", (20, 120), 3_100, 35,
             0.55),
    Material("WD-02", "Oak veneer door leaf, 44 mm, FD30", "Wood", "European oak veneer",
             "Lacquered, 10 % sheen", "Egger", "Kapı Sistem San.", "pcs", (4, 18), 14_500, 42,
             0.62),
    Material("WD-03", "Compact laminate, 12 mm", "Wood", "HPL compact", "Anthracite, suede",
             "Egger", "Ahşap Dünyası Ltd.", "sqm", (8, 40), 2_650, 21, 0.6),
    Material("FL-01", "Porcelain tile 60x120, rectified", "Flooring", "Porcelain",
             "Matt, R10", "VitrA", "Karaköy Yapı Market", "sqm", (90, 420), 1_180, 14, 0.4),
    Material("FL-02", "Carpet tile 50x50", "Flooring", "Nylon, solution dyed",
             "Grey loop", "Interface", "Zemin Kaplama A.Ş.", "sqm", (60, 500), 890, 28, 0.7),
    Material("ST-01", "Quartz worktop, 20 mm", "Stone", "Engineered quartz",
             "Polished, Pure White", "Caesarstone", "Mutfak Taş Atölyesi", "lm", (4, 14),
             9_400, 18, 0.62),
    Material("ST-02", "Marble cladding for the {hero}", "Stone", "Calacatta marble",
             "Honed", "Marmara Mermer", "Marmara Mermer", "sqm", (4, 16), 16_800, 30, 0.5),
    Material("GL-01", "Toughened glass, 12 mm, for partitions", "Glass", "Toughened glass",
             "Low-iron, clear", "Şişecam", "Cam İş Cam Sistemleri", "sqm", (20, 90), 3_900,
             21, 0.52),
    Material("GL-02", "Manifestation film for glass partitions", "Glass", "Vinyl film",
             "Frosted bands", "3M", "Cam İş Cam Sistemleri", "sqm", (6, 30), 620, 7, 0.6),
    Material("CL-01", "Acoustic ceiling tile 600x600", "Ceiling", "Mineral fibre",
             "White, fine texture", "Armstrong", "Tavan Sistemleri Ltd.", "sqm", (150, 600),
             540, 21, 0.38),
    Material("CL-02", "Ceiling grid, 24 mm exposed tee", "Ceiling", "Galvanised steel",
             "White", "Armstrong", "Tavan Sistemleri Ltd.", "sqm", (150, 600), 210, 14,
             0.36),
    Material("PT-01", "Interior emulsion paint", "Paint", "Water-based emulsion",
             "Matt, RAL 9010", "DYO", "Renk Boya Market", "l", (120, 600), 240, 3, 0.48),
    Material("PT-02", "Primer for gypsum board", "Paint", "Acrylic primer", "White", "DYO",
             "Renk Boya Market", "l", (60, 300), 180, 3, 0.46),
    Material("LT-01", "LED downlight 12 W, 3000 K, UGR<19", "Lighting", "Die-cast aluminium",
             "White", "Philips", "Aydınlatma Merkezi", "pcs", (60, 240), 1_450, 28, 0.62),
    Material("LT-02", "Linear LED pendant, 1500 mm", "Lighting", "Extruded aluminium",
             "Black anodised", "Artemide", "Aydınlatma Merkezi", "pcs", (6, 30), 12_800, 45,
             0.66),
    Material("FB-01", "Upholstery fabric for banquettes", "Fabric", "Wool blend",
             "Kvadrat Remix 3, colour 0643", "Kvadrat", "Tekstil Evi", "lm", (10, 60), 2_300,
             35, 0.75),
    Material("IR-01", "Lever handle set, satin stainless steel", "Ironmongery",
             "Stainless steel", "Satin", "Häfele", "Bağlantı Elemanları A.Ş.", "set", (4, 18),
             2_100, 14, 0.7),
    Material("IR-02", "Soft-close drawer runners", "Ironmongery", "Steel", "Zinc", "Blum",
             "Bağlantı Elemanları A.Ş.", "set", (10, 60), 650, 14, 0.5),
    Material("SW-01", "Wall-hung WC pan with concealed cistern", "Sanitaryware",
             "Vitreous china", "White", "VitrA", "Karaköy Yapı Market", "pcs", (2, 8),
             11_600, 21, 0.6),
    Material("SW-02", "Basin mixer, single lever", "Sanitaryware", "Chrome-plated brass",
             "Chrome", "Grohe", "Karaköy Yapı Market", "pcs", (2, 10), 4_900, 14, 0.66),
)
