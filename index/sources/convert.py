"""MediaWiki's ``{{convert}}`` (and ``{{cvt}}``) rendered as text: "210 km (130 mi)".

The common units of length, area, volume, mass, speed, temperature and power
are known; a unit outside them makes the template unrenderable (``None``), so
its sentence is left out rather than indexed with a hole. Both units are
abbreviated unless ``abbr=off`` (Wikipedia spells the first one out: the
numbers are the same). Output is rounded to the input's own precision carried
through the conversion (``210`` km is good to ten, so ten km, 6.2 mi: "130"),
never to fewer than two significant figures; a precision argument
(``{{convert|210|km|mi|1}}``) or ``sigfig=`` overrides that, as on Wikipedia
(https://en.wikipedia.org/wiki/Template:Convert).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["render_convert"]


@dataclass(frozen=True)
class _Unit:
    dimension: str
    factor: float  # to the dimension's SI unit
    symbol: str
    name: str  # singular, British spelling (Wikipedia's default)
    plural: str
    offset: float = 0.0  # temperatures: SI = (value + offset) * factor


def _unit(dimension: str, factor: float, symbol: str, name: str, plural: str | None = None) -> _Unit:
    return _Unit(dimension, factor, symbol, name, plural or name + "s")


_UNITS: dict[str, _Unit] = {
    "m": _unit("length", 1, "m", "metre"),
    "km": _unit("length", 1000, "km", "kilometre"),
    "cm": _unit("length", 0.01, "cm", "centimetre"),
    "mm": _unit("length", 0.001, "mm", "millimetre"),
    "mi": _unit("length", 1609.344, "mi", "mile"),
    "ft": _unit("length", 0.3048, "ft", "foot", "feet"),
    "in": _unit("length", 0.0254, "in", "inch", "inches"),
    "yd": _unit("length", 0.9144, "yd", "yard"),
    "nmi": _unit("length", 1852, "nmi", "nautical mile"),
    "m2": _unit("area", 1, "m²", "square metre"),
    "km2": _unit("area", 1e6, "km²", "square kilometre"),
    "ha": _unit("area", 1e4, "ha", "hectare"),
    "acre": _unit("area", 4046.8564224, "acres", "acre"),
    "sqmi": _unit("area", 2589988.110336, "sq mi", "square mile"),
    "sqft": _unit("area", 0.09290304, "sq ft", "square foot", "square feet"),
    "m3": _unit("volume", 1, "m³", "cubic metre"),
    "l": _unit("volume", 0.001, "L", "litre"),
    "ml": _unit("volume", 1e-6, "mL", "millilitre"),
    "usgal": _unit("volume", 0.003785411784, "US gal", "US gallon"),
    "impgal": _unit("volume", 0.00454609, "imp gal", "imperial gallon"),
    "cuft": _unit("volume", 0.028316846592, "cu ft", "cubic foot", "cubic feet"),
    "bbl": _unit("volume", 0.158987294928, "bbl", "barrel"),
    "kg": _unit("mass", 1, "kg", "kilogram"),
    "g": _unit("mass", 0.001, "g", "gram"),
    "t": _unit("mass", 1000, "t", "tonne"),
    "lb": _unit("mass", 0.45359237, "lb", "pound"),
    "oz": _unit("mass", 0.028349523125, "oz", "ounce"),
    "lt": _unit("mass", 1016.0469088, "long tons", "long ton"),
    "st": _unit("mass", 907.18474, "short tons", "short ton"),
    "km/h": _unit("speed", 1 / 3.6, "km/h", "kilometre per hour", "kilometres per hour"),
    "mph": _unit("speed", 0.44704, "mph", "mile per hour", "miles per hour"),
    "m/s": _unit("speed", 1, "m/s", "metre per second", "metres per second"),
    "kn": _unit("speed", 1852 / 3600, "kn", "knot"),
    "c": _Unit("temperature", 1, "°C", "degree Celsius", "degrees Celsius", 273.15),
    "f": _Unit("temperature", 5 / 9, "°F", "degree Fahrenheit", "degrees Fahrenheit", 459.67),
    "k": _Unit("temperature", 1, "K", "kelvin", "kelvins"),
    "w": _unit("power", 1, "W", "watt"),
    "kw": _unit("power", 1e3, "kW", "kilowatt"),
    "mw": _unit("power", 1e6, "MW", "megawatt"),
    "hp": _unit("power", 745.69987158227022, "hp", "horsepower", "horsepower"),
}
# Codes as editors write them (Wikipedia's Module:Convert/data), mapped to the table's keys.
_ALIASES = {"sqkm": "km2", "sq km": "km2", "acres": "acre", "sqm": "m2", "kilometres": "km",
            "metres": "m", "miles": "mi", "feet": "ft", "foot": "ft", "inches": "in", "°c": "c",
            "°f": "f", "kph": "km/h", "knot": "kn", "knots": "kn", "us gal": "usgal",
            "gal": "usgal", "cu ft": "cuft", "long ton": "lt", "short ton": "st", "ton": "st",
            "tonne": "t", "tonnes": "t", "pound": "lb", "lbs": "lb", "metre": "m"}
_DEFAULT_OUT = {"m": "ft", "km": "mi", "cm": "in", "mm": "in", "mi": "km", "ft": "m", "in": "cm",
                "yd": "m", "nmi": "km", "m2": "sqft", "km2": "sqmi", "ha": "acre", "acre": "ha",
                "sqmi": "km2", "sqft": "m2", "m3": "cuft", "l": "usgal", "ml": "usgal",
                "usgal": "l", "impgal": "l", "cuft": "m3", "bbl": "m3", "kg": "lb", "g": "oz",
                "t": "st", "lb": "kg", "oz": "g", "lt": "t", "st": "t", "km/h": "mph",
                "mph": "km/h", "m/s": "km/h", "kn": "km/h", "c": "f", "f": "c", "k": "c",
                "w": "hp", "kw": "hp", "mw": "hp", "hp": "kw"}
# Words between the two values of a range, as editors write them and as the page shows them.
_RANGES = {"to": " to ", "-": "–", "–": "–", "and": " and ", "or": " or ", "by": " by ",
           "x": " × ", "×": " × ", "+/-": " ± ", "±": " ± ", "to(-)": " to ", "and(-)": " and "}
_NUMBER = re.compile(r"^[+\-−]?(\d{1,3}(,\d{3})+|\d*)(\.\d+)?$")


def _lookup(code: str) -> tuple[str, _Unit] | None:
    key = code.strip().lower()
    key = _ALIASES.get(key, key)
    unit = _UNITS.get(key)
    return (key, unit) if unit else None


def _number(text: str) -> tuple[float, float] | None:
    """(value, precision unit) of "1,200" (1200, 100) or "3.50" (3.5, 0.01); None if not a number."""
    text = text.strip()
    if not text or not _NUMBER.match(text) or not any(c.isdigit() for c in text):
        return None
    plain = text.replace(",", "").replace("−", "-")
    if "." in plain:
        return float(plain), 10.0 ** -len(plain.split(".", 1)[1])
    digits = plain.lstrip("+-")
    zeros = len(digits) - len(digits.rstrip("0")) if digits.strip("0") else 0
    return float(plain), 10.0 ** zeros


def _convert(value: float, source: _Unit, target: _Unit) -> float:
    return (value + source.offset) * source.factor / target.factor - target.offset


def _places(out: float, step: float, digits: int | None, sigfig: int | None) -> int:
    """Decimal places to show: the given ones, or the input's precision, at least 2 figures."""
    if digits is not None:
        return digits
    magnitude = math.floor(math.log10(abs(out))) if out else 0
    if sigfig is not None:
        return sigfig - 1 - magnitude
    return max(-round(math.log10(step)), 1 - magnitude)


def _format(value: float, places: int) -> str:
    if places < 0:
        value = round(value, places)
        places = 0
    text = f"{value:,.{places}f}"
    return "0" if text.lstrip("-").strip("0.,") == "" else text.replace("-", "−")


def _label(unit: _Unit, values: Sequence[float], *, spell: bool, us: bool) -> str:
    if not spell:
        return unit.symbol
    name = unit.name if len(values) == 1 and abs(values[0]) == 1 else unit.plural
    return name.replace("metre", "meter").replace("litre", "liter") if us else name


def render_convert(positional: Sequence[str], named: dict[str, str]) -> str | None:
    """``{{convert|…}}``'s text, or None when a value or unit is not understood."""
    args = [a.strip() for a in positional]
    first = _number(args[0]) if args else None
    if first is None:
        return None
    values, steps, joins, rest = [first[0]], [first[1]], [], args[1:]
    while len(rest) >= 2 and rest[0].lower() in _RANGES and _number(rest[1]):
        joins.append(_RANGES[rest[0].lower()])
        number = _number(rest[1])
        assert number is not None
        values.append(number[0])
        steps.append(number[1])
        rest = rest[2:]
    found = _lookup(rest[0]) if rest else None
    if found is None:
        return None
    code, source = found
    rest = rest[1:]
    # "5|ft|6|in": a second component in a smaller unit of the same kind, summed.
    if len(values) == 1 and len(rest) >= 2 and _number(rest[0]) and _lookup(rest[1]):
        extra, second = _number(rest[0]), _lookup(rest[1])
        assert extra is not None and second is not None
        if second[1].dimension == source.dimension and second[1].factor < source.factor:
            return _compound(values[0], source, extra, second[1], rest[2:], named)
    out_codes = rest[0].split() if rest and rest[0] else [_DEFAULT_OUT[code]]
    targets = [_lookup(c) for c in out_codes]
    if not targets or any(t is None or t[1].dimension != source.dimension for t in targets):
        return None
    digits = int(rest[1]) if len(rest) > 1 and re.fullmatch(r"-?\d", rest[1]) else None
    sigfig = int(named["sigfig"]) if named.get("sigfig", "").isdigit() else None
    # abbr=off spells both units, abbr=out only the first, abbr=in only the second.
    spell_in = named.get("abbr") in ("off", "out")
    spell_out = named.get("abbr") in ("off", "in")
    us = named.get("sp") == "us"
    shown_in = _join([_format(v, max(0, -round(math.log10(s)))) for v, s in zip(values, steps, strict=True)],
                     joins)
    if named.get("adj") == "on":  # "a 10-kilometre (6.2 mi) race"
        left = f"{shown_in}-{_label(source, [1.0], spell=True, us=us)}"
    else:
        left = f"{shown_in} {_label(source, values, spell=spell_in, us=us)}"
    outs = []
    for target in targets:
        assert target is not None
        converted = [_convert(v, source, target[1]) for v in values]
        # The ends of a range are shown alike: "9.8 to 16.4 ft", not "9.8 to 16 ft".
        places = max(_places(c, s * source.factor / target[1].factor, digits, sigfig)
                     for c, s in zip(converted, steps, strict=True))
        shown = [_format(c, places) for c in converted]
        outs.append((_join(shown, joins), _label(target[1], converted, spell=spell_out, us=us)))
    return _display(left, outs, named.get("disp", ""))


def _compound(big: float, unit: _Unit, small: tuple[float, float], small_unit: _Unit,
              rest: list[str], named: dict[str, str]) -> str | None:
    """"5 ft 6 in (1.68 m)": two components summed, converted to the default or given unit."""
    total = big * unit.factor + small[0] * small_unit.factor
    code = rest[0] if rest and rest[0] else ("m" if unit.dimension == "length" else "kg")
    target = _lookup(code)
    if target is None or target[1].dimension != unit.dimension:
        return None
    converted = total / target[1].factor
    left = f"{_format(big, 0)} {unit.symbol} {_format(small[0], 0)} {small_unit.symbol}"
    shown = _format(converted, _places(converted, small[1] * small_unit.factor / target[1].factor,
                                       None, None))
    return _display(left, [(shown, target[1].symbol)], named.get("disp", ""))


def _join(values: list[str], joins: list[str]) -> str:
    text = values[0]
    for join, value in zip(joins, values[1:], strict=True):
        text += join + value
    return text


def _display(left: str, outs: list[tuple[str, str]], disp: str) -> str:
    right = "; ".join(f"{number} {label}" for number, label in outs)
    disp = disp.strip().lower()
    if disp == "or":
        return f"{left} or {right}"
    if disp == "flip":
        return f"{right} ({left})"
    if disp in ("out", "output only"):
        return right
    if disp in ("number", "output number only"):
        return outs[0][0]
    if disp == "comma":
        return f"{left}, {right}"
    if disp == "slash":
        return f"{left}/{right}"
    return f"{left} ({right})"
