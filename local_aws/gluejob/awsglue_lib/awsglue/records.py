"""Schema of records returned by a ``DynamicFrame.map`` function: each field's type from the values it holds
(Glue types every record; a field whose values have several types is a choice)."""

from __future__ import annotations

import datetime as dt
import decimal

from pyspark.sql import types as T

_PY_TYPES = [  # order matters: bool is an int
    (bool, "boolean", T.BooleanType()), (int, "long", T.LongType()), (float, "double", T.DoubleType()),
    (str, "string", T.StringType()), (dt.datetime, "timestamp", T.TimestampType()),
    (dt.date, "date", T.DateType()), (decimal.Decimal, "decimal", T.DecimalType(38, 18)),
    (bytes, "binary", T.BinaryType()),
]
_SPARK = {name: spark for _, name, spark in _PY_TYPES}


def _type_name(value) -> str:
    if value is None:
        return "null"
    for py, name, _ in _PY_TYPES:
        if isinstance(value, py):
            return name
    raise NotImplementedError(f"DynamicFrame.map returning a {type(value).__name__} value is not implemented by "
                              "the local AWS's awsglue library")


def infer(records, previous: T.StructType) -> tuple[T.StructType, dict[str, list[str]]]:
    """(schema, choices) of an RDD of dicts: fields in the input's order, then new fields in first-seen order."""
    seen = records.flatMap(lambda r: [(k, _type_name(v)) for k, v in r.items()]).distinct().collect()
    types: dict[str, set[str]] = {}
    for name, type_name in seen:
        types.setdefault(name, set()).add(type_name)
    order = [f.name for f in previous.fields if f.name in types]
    order += sorted(n for n in types if n not in order)
    fields, choices = [], {}
    for name in order:
        kinds = types[name] - {"null"}
        if kinds == {"long", "double"}:
            kinds = {"double"}
        if not kinds:
            fields.append(T.StructField(name, T.NullType(), True))
        elif len(kinds) == 1:
            fields.append(T.StructField(name, _SPARK[next(iter(kinds))], True))
        else:
            if not kinds <= {"long", "double", "string"}:
                raise NotImplementedError(f"DynamicFrame.map: a choice of {sorted(kinds)} in {name!r} is not "
                                          "implemented by the local AWS's awsglue library")
            numeric = "double" if "double" in kinds else "long"
            choices[name] = [numeric, "string"]
            fields.append(T.StructField(name, T.StringType(), True))
    return T.StructType(fields), choices


def converter(schema: T.StructType, choices: dict[str, list[str]]):
    names = [f.name for f in schema.fields]
    as_text = set(choices)
    as_float = {f.name for f in schema.fields if isinstance(f.dataType, T.DoubleType)}

    def convert(record: dict) -> tuple:
        out = []
        for name in names:
            value = record.get(name)
            if value is not None and name in as_text:
                value = str(value)
            elif value is not None and name in as_float:
                value = float(value)
            out.append(value)
        return tuple(out)

    return convert


def typed(record: dict, choices: dict[str, list[str]]) -> dict:
    """A record as a function sees it: a choice field's value in its own type (12.5, or the text "$3")."""
    for name, types in choices.items():
        value = record.get(name)
        if value is None:
            continue
        text = value.strip()
        try:
            record[name] = int(text) if types[0] == "long" else float(text)
            if types[0] == "double" and not _looks_numeric(text):
                record[name] = value
        except ValueError:
            pass
    return record


def _looks_numeric(text: str) -> bool:
    return text.lower() not in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity")
