"""Text of numbers for the report: times, counts, intervals, changes, rates."""
import html
import math


def fmt_time(seconds):
    if seconds is None or not math.isfinite(seconds):
        return "–"
    mag = abs(seconds)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if mag >= scale or unit == "ns":
            return fmt_sig(seconds / scale) + " " + unit
    return str(seconds)


def fmt_sig(value):
    """Three significant figures without scientific notation."""
    mag = abs(value)
    if mag >= 100:
        return "%.0f" % value
    if mag >= 10:
        return "%.1f" % value
    if mag >= 1:
        return "%.2f" % value
    return "%.3g" % value


def fmt_number(value, name=""):
    if value is None or not math.isfinite(value):
        return "–"
    if name.endswith("_s"):
        return fmt_time(value)
    if abs(value) >= 1e6 or (value != 0 and abs(value) < 1e-3):
        return "%.3g" % value
    if float(value).is_integer():
        return "{:,}".format(int(value)).replace(",", "\u2009")
    return fmt_sig(value)


def fmt_interval(low, high, name="_s"):
    if not (math.isfinite(low) and math.isfinite(high)):
        return "–"
    return "%s – %s" % (fmt_number(low, name), fmt_number(high, name))


def fmt_change(change):
    if change is None or not math.isfinite(change):
        return "–"
    return "%+.1f%%" % (change * 100)


def fmt_bytes(text):
    try:
        value = float(text)
    except ValueError:
        return text
    return "%s (%.1f GiB)" % (text, value / 2 ** 30)


def esc(text):
    return html.escape(str(text), quote=True)



def bw_text(value):
    if not math.isfinite(value):
        return "–"
    for unit, scale in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if value >= scale:
            return "%s %s" % (fmt_sig(value / scale), unit)
    return "%s B/s" % fmt_sig(value)


def rate_text(value):
    if not math.isfinite(value):
        return "–"
    if value >= 1e6:
        return "%sM" % fmt_sig(value / 1e6)
    if value >= 1e4:
        return "%sk" % fmt_sig(value / 1e3)
    return fmt_sig(value)
