"""Python lists sent to PostgreSQL as one array constant.

psycopg2 sends a list as ``ARRAY[1, 2, …]``: PostgreSQL then parses and transforms each element as an
expression of its own, and psycopg2 quotes each one. For a batch's columns that is most of a statement's cost
outside its execution: seven arrays of 1,000 integers took 21.3 ms a statement, the same arrays in their text
form (``'{1,2,…}'``, one constant read by the type's input function) 1.5 ms (median of 30, one connection,
docs/performance.md). The statements that pass a batch's columns or ids send them in that form, cast to
their array type (``%s::int[]``, ``= ANY(%s::int[])``).
"""
import datetime

# the types of a column that take the shortcuts of ``array_literal``
_INTEGERS = {int}
_NULL = {type(None)}


def _element(value):
    if value is None:
        return "NULL"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return f'"{value}"'
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"no array literal for {type(value).__name__} values")


def array_literal(values):
    """The text form of the one-dimensional array of ``values`` (integers, strings, dates, datetimes,
    booleans, None for NULL), to pass as a parameter cast to the array's type: ``%s::int[]``.

    Strings are quoted, so any text reads back as itself (commas, braces, quotes, backslashes, ``NULL``).
    """
    values = values if isinstance(values, list | tuple) else list(values)
    kinds = set(map(type, values))
    if kinds == _INTEGERS:
        return "{" + ",".join(map(str, values)) + "}"
    if len(kinds - _NULL) == 1:
        # values of one type (and NULLs), as a batch's columns are: each distinct value is converted once
        # (a batch repeats its states and dates; 1,000 equal datetimes took 1.5 ms one by one)
        texts = {value: _element(value) for value in set(values)}
        return "{" + ",".join(map(texts.__getitem__, values)) + "}"
    # mixed types (True and 1 would share an entry of the table above)
    return "{" + ",".join(map(_element, values)) + "}"

