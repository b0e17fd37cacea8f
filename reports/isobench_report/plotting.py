"""matplotlib, imported on first use with the Agg backend: a bad input fails before
it is loaded, and no display is ever needed."""

_PYPLOT = None


def pyplot():
    global _PYPLOT  # pylint: disable=global-statement
    if _PYPLOT is None:
        import matplotlib  # pylint: disable=import-outside-toplevel
        matplotlib.use("Agg")
        import matplotlib.pyplot  # pylint: disable=import-outside-toplevel
        _PYPLOT = matplotlib.pyplot
    return _PYPLOT


def formatter(func):
    """A matplotlib tick formatter calling func(value, position)."""
    from matplotlib.ticker import FuncFormatter  # pylint: disable=import-outside-toplevel
    return FuncFormatter(func)


def log_axis_labels(axis, text):
    """Labels a log axis in one style: text(value) at every decade and, so that a span
    of less than a decade still reads, at the 2, 3 and 5 between (matplotlib's own minor
    labels would be in scientific notation beside them)."""
    import math  # pylint: disable=import-outside-toplevel
    axis.set_major_formatter(formatter(lambda v, _pos: text(v)))

    def minor(value, _pos):
        if not (math.isfinite(value) and value > 0):
            return ""
        mantissa = value / 10 ** math.floor(math.log10(value) + 1e-9)
        return text(value) if any(abs(mantissa - m) < 1e-6 for m in (2, 3, 5)) else ""
    axis.set_minor_formatter(formatter(minor))


def ms_formatter():
    def fmt(value, _pos):
        if value >= 1:
            return "{:,.0f}".format(value).replace(",", "\u2009")
        return "%g" % value
    return formatter(fmt)
