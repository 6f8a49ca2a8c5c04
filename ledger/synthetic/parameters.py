"""The simulator's fixed parameters: countries, industries, segments, terms, draw coefficients."""

from __future__ import annotations

_NEVER = 100_000_000
"""Epoch-day sentinel for an event that never happens (far beyond any ledger end)."""

# country, currency, weight, legal form of names, usual payment method
_COUNTRIES: tuple[tuple[str, str, float, str, str], ...] = (
    ("US", "USD", 0.34, "Inc.", "ach"),
    ("CA", "CAD", 0.07, "Ltd.", "wire"),
    ("GB", "GBP", 0.12, "Ltd", "bacs"),
    ("DE", "EUR", 0.13, "GmbH", "sepa"),
    ("FR", "EUR", 0.09, "SAS", "sepa"),
    ("NL", "EUR", 0.07, "B.V.", "sepa"),
    ("ES", "EUR", 0.05, "S.L.", "sepa"),
    ("SE", "SEK", 0.05, "AB", "sepa"),
    ("CH", "CHF", 0.08, "AG", "wire"),
)
_FX_TO_USD: dict[str, float] = {
    "USD": 1.0, "CAD": 0.73, "GBP": 1.27, "EUR": 1.09, "SEK": 0.095, "CHF": 1.13,
}
_OTHER_METHODS: tuple[tuple[str, float], ...] = (("wire", 0.7), ("card", 0.15), ("check", 0.15))
_USUAL_METHOD_SHARE = 0.7

# industry, weight, weight among customers joining after a shock, logit risk, name nouns
_INDUSTRIES: tuple[tuple[str, float, float, float, tuple[str, str, str]], ...] = (
    ("manufacturing", 0.20, 0.12, 0.00, ("Manufacturing", "Industries", "Components")),
    ("wholesale", 0.16, 0.12, 0.15, ("Trading", "Distribution", "Supply")),
    ("retail", 0.14, 0.18, 0.45, ("Retail", "Stores", "Outlets")),
    ("construction", 0.10, 0.18, 0.70, ("Construction", "Builders", "Contracting")),
    ("technology", 0.12, 0.08, -0.25, ("Systems", "Software", "Technologies")),
    ("healthcare", 0.10, 0.06, -0.40, ("Health", "Medical", "Care")),
    ("transportation", 0.10, 0.13, 0.35, ("Logistics", "Freight", "Transport")),
    ("hospitality", 0.08, 0.13, 0.80, ("Hospitality", "Hotels", "Catering")),
)
_NAME_PREFIXES: tuple[str, ...] = (
    "Apex", "Northwind", "Bluewater", "Summit", "Granite", "Harbor", "Evergreen", "Silverline",
    "Redwood", "Ironbridge", "Brightpath", "Crescent", "Oakridge", "Pioneer", "Keystone",
    "Meridian", "Riverside", "Stonegate", "Westfield", "Horizon", "Lakeshore", "Pinnacle",
    "Cobalt", "Sterling",
)

_SEGMENTS: tuple[str, ...] = ("small", "mid", "large", "enterprise")
_SEGMENT_UPPER_SALES_USD: tuple[float, ...] = (1e6, 5e6, 25e6)
_MEDIAN_SALES_USD = 1.5e6
_SALES_LOG_SD = 1.25
_SHOCK_JOINER_LOG_SALES_SHIFT = -0.6
_PO_USE_BY_SEGMENT: tuple[float, ...] = (0.3, 0.5, 0.8, 0.95)

_TERMS_DAYS: tuple[int, ...] = (15, 30, 45, 60, 90)
_TERMS_BY_SEGMENT: tuple[tuple[float, ...], ...] = (
    (0.20, 0.50, 0.15, 0.10, 0.05),
    (0.10, 0.45, 0.20, 0.15, 0.10),
    (0.05, 0.30, 0.25, 0.25, 0.15),
    (0.00, 0.20, 0.20, 0.30, 0.30),
)
_CREDIT_LIMIT_MONTHS = 2.0
_STATED_SALES_LOG_SD = 0.3
"""Noise of the sales figure the naive credit-limit rule is fed at onboarding."""

_SEASON: tuple[float, ...] = (0.92, 0.95, 1.0, 1.0, 1.02, 1.0, 0.95, 0.85, 1.02, 1.05, 1.05, 0.9)
_QUARTER_END_BUMP = 1.2
_RATE_SIZE_ELASTICITY = 0.45
_AMOUNT_LOG_SD = 0.7
_MIN_INVOICE_CENTS = 500

_CW_SIZE_EFFECT = 0.25
_CW_LEVEL_SD = 0.9
_CW_START_SD = 0.5
_CW_PERSISTENCE = 0.92
_CW_MONTHLY_SD = 0.2
_CW_SHOCK_DROP = 0.5
_CW_SHOCK_JOINER_DROP = 0.4

_DEFAULT_INTERCEPT = -8.0
_DEFAULT_INDUSTRY_WEIGHT = 0.8
_DEFAULT_CW_WEIGHT = 1.6
_DEFAULT_MIN_HISTORY_DAYS = 60

_LATE_AMOUNT_WEIGHT = 0.3
_LATE_UTILIZATION_WEIGHT = 0.5
_LATE_QUARTER_END = 0.25
_UTILIZATION_CENTER = 0.75
_PRE_LEDGER_MONTHS = 3

_EARLY_CLOSE_SHARE = 0.8
_LATE_DAYS_SCALE = 1.5
"""Mean days of a short delay (before the customer's creditworthiness and a shock)."""
_LONG_DELAY_SHARE = 0.12
_LONG_DELAY_SCALE = 25.0
"""A delay is long with this share, of this mean."""
_LATE_DAYS_CW_WEIGHT = 0.6
_MAX_DAYS_LATE = 720

_DISPUTE_IF_LATE = 0.08
_DISPUTE_IF_ON_TIME = 0.015
_DISPUTE_RESOLUTION_DAYS = 20.0
_DISPUTE_CREDIT_SHARE = 0.45
_DISPUTE_FULL_CREDIT_SHARE = 0.2
_DISPUTE_REASONS: tuple[tuple[str, float], ...] = (
    ("pricing", 0.30), ("delivery", 0.20), ("quality", 0.20), ("quantity", 0.15),
    ("billing_error", 0.10), ("missing_po", 0.05),
)
_CREDIT_NOTE_SHARE = 0.03
_CREDIT_FULL_RETURN_SHARE = 0.15
_CREDIT_REASONS: tuple[tuple[str, float], ...] = (
    ("pricing", 0.40), ("return", 0.30), ("rebate", 0.20), ("damaged_goods", 0.10),
)

_PARTIAL_SHARE = 0.10
_THREE_INSTALMENT_SHARE = 0.3
_MIN_SPLIT_CENTS = 1000

_PROMISE_SHARE = 0.35
_PROMISE_MIN_DAYS_LATE = 5
_PROMISE_PARTIAL_SHARE = 0.2
_DOOMED_PROMISE_HORIZON = 60

# payment habits: how customers time their payments (`paydays`)
_HABITS: tuple[str, ...] = ("weekly", "twice_monthly", "month_end", "none")
_HABIT_WEIGHTS: tuple[float, ...] = (0.45, 0.11, 0.07, 0.37)
_RUN_WEEKDAY_WEIGHTS: tuple[float, ...] = (0.15, 0.25, 0.2, 0.25, 0.15)
"""Weekday of a weekly payment run, Monday to Friday."""
_BANK_LAG_SHARE = 0.2
"""Share of customers whose payments arrive one business day after their run."""
_SLIP_LOGIT_MEAN = 1.5
_SLIP_LOGIT_SD = 1.0
"""A customer's slip propensity, sigmoid(N(mean, sd)): the chance it pays an invoice due on
the last business day before one of its pay days (or on a weekend or holiday just before it)
in that run rather than the run before."""
_SLIP_DECAY = 0.25
_LAXITY_SD = 1.5
"""Spread of a customer's own delay logit (payment discipline apart from creditworthiness)."""
"""Each further day between the due date and the next pay day multiplies the slip chance."""
