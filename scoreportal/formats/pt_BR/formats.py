"""Brazilian dates with seconds: 22/11/2026 15:25:07. Numbers keep Django's pt-BR (1.234,5)."""

DATE_FORMAT = "d/m/Y"
TIME_FORMAT = "H:i:s"
DATETIME_FORMAT = "d/m/Y H:i:s"
SHORT_DATE_FORMAT = "d/m/Y"
SHORT_DATETIME_FORMAT = "d/m/Y H:i"  # lists: to the minute
# A day without its year, short enough for a chart's axis: 22/11.
MONTH_DAY_FORMAT = "d/m"
