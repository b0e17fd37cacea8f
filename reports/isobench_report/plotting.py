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


def ms_formatter():
    def fmt(value, _pos):
        if value >= 1:
            return "{:,.0f}".format(value).replace(",", "\u2009")
        return "%g" % value
    return formatter(fmt)
