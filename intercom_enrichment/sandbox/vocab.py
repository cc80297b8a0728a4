"""Fixed pools of values the sandbox world draws from (names, places, admins, tags...)."""

from __future__ import annotations

FIRST_NAMES = (
    "Ada", "Ben", "Chloé", "Dmitri", "Emma", "Farah", "Gus", "Hana", "Ivan", "Jules",
    "Kenji", "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq",
)  # fmt: skip
LAST_NAMES = (
    "Lovelace", "Okafor", "Müller", "Ivanova", "Nakamura", "Haddad", "Silva", "Kowalski",
    "Dubois", "Rossi", "O'Brien", "Svensson", "Patel", "García", "Nguyen", "Smith",
)  # fmt: skip
EMAIL_DOMAINS = ("example.com", "acme.io", "globex.net", "initech.org", "mail.test")

# (country, region, city, country_code, continent_code)
LOCATIONS = (
    ("United States", "California", "San Francisco", "USA", "NA"),
    ("United States", "New York", "New York", "USA", "NA"),
    ("Ireland", "Dublin", "Dublin", "IRL", "EU"),
    ("Germany", "Berlin", "Berlin", "DEU", "EU"),
    ("France", "Île-de-France", "Paris", "FRA", "EU"),
    ("Japan", "Tokyo", "Tokyo", "JPN", "AS"),
    ("Brazil", "São Paulo", "São Paulo", "BRA", "SA"),
    ("Australia", "New South Wales", "Sydney", "AUS", "OC"),
    ("Nigeria", "Lagos", "Lagos", "NGA", "AF"),
)
BROWSERS = (("chrome", "124.0.0"), ("firefox", "126.0"), ("safari", "17.4"), ("edge", "123.0"))
OPERATING_SYSTEMS = ("OS X 14.4", "Windows 11", "iOS 17.4", "Android 14", "Linux")
LANGUAGES = ("en", "fr", "de", "ja", "pt-BR", "es")

ADMIN_NAMES = (
    ("Aoife", "Byrne"), ("Bruno", "Costa"), ("Carla", "Diaz"), ("Deniz", "Aydin"),
    ("Eli", "Frost"), ("Fatima", "Zahra"), ("Gero", "Hahn"), ("Hiro", "Tanaka"),
    ("Ines", "Moreau"), ("Jon", "Kerr"), ("Kai", "Lund"), ("Lia", "Marsh"),
)  # fmt: skip
# (id, name, email)
ADMINS = tuple(
    (str(991267600 + k), f"{first} {last}", f"{first.lower()}.{k}@sandbox.example.com")
    for k, (first, last) in enumerate(ADMIN_NAMES)
)
BOT = ("278", "Fin", "fin@sandbox.example.com")
TEAM_IDS = (5017690, 5017691, 5017692, 5017693, 5017694)

CONVERSATION_TAGS = (
    ("123456", "Billing"), ("123457", "Bug"), ("123458", "Feature request"),
    ("123459", "VIP"), ("123460", "Churn risk"), ("123461", "Onboarding"),
)  # fmt: skip
CONTACT_TAGS = (
    ("223456", "Newsletter"), ("223457", "Beta"), ("223458", "Enterprise"), ("223459", "Trial"),
    ("223460", "Partner"), ("223461", "Churned"), ("223462", "Webinar"), ("223463", "NPS 9-10"),
    ("223464", "NPS 0-6"), ("223465", "Mobile"), ("223466", "API user"), ("223467", "EU"),
    ("223468", "US"), ("223469", "Referral"),
)  # fmt: skip
TEAM_NAMES = ("Support", "Billing", "Success", "Engineering escalations", "Sales")
JOB_TITLES = ("Support engineer", "Support lead", "Account manager", None)
TOPICS = (("7001", "Payments"), ("7002", "Login problems"), ("7003", "Integrations"))
SLA_NAMES = ("Standard 8h", "Priority 1h", "Enterprise 30m")
SLA_STATUSES = ("hit", "missed", "cancelled", "active")

SUBJECTS = (
    "Cannot log in",
    "Refund for last invoice",
    "How do I export my data?",
    "Webhook deliveries failing",
    "Upgrade to the annual plan",
    "Question about the API",
)
MESSAGES = (
    "Hi, I need some help with this.",
    "Thanks, that worked!",
    "Could you share a screenshot?",
    "I have escalated this to our engineers.",
    "Any update on this?",
    "We have shipped a fix, please try again.",
    "Closing this for now, reply any time.",
)
SEGMENTS = (
    ("5f0c2a1b3d4e5f6a7b8c9d01", "Active users"),
    ("5f0c2a1b3d4e5f6a7b8c9d02", "Paying customers"),
    ("5f0c2a1b3d4e5f6a7b8c9d03", "Trialists"),
    ("5f0c2a1b3d4e5f6a7b8c9d04", "Slipping away"),
    ("5f0c2a1b3d4e5f6a7b8c9d05", "New this week"),
    ("5f0c2a1b3d4e5f6a7b8c9d06", "EU region"),
)
