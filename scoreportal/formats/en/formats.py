"""English dates with seconds, in the 24-hour clock the staff use: Nov. 22, 2026, 15:25:07."""

DATE_FORMAT = "N j, Y"
TIME_FORMAT = "H:i:s"
DATETIME_FORMAT = "N j, Y, H:i:s"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"  # lists: to the minute
# A day without its year, short enough for a chart's axis: Nov. 22.
MONTH_DAY_FORMAT = "N j"
