"""``awsglue.dynamicframe.DynamicFrame`` on a Spark DataFrame ("DynamicFrame class", AWS Glue developer guide).

A DynamicFrame here is a DataFrame plus its *choice* fields: a top-level field whose records hold values of more
than one type (Glue's ``choice`` type, e.g. a CSV column with ``12.5`` in some rows and ``$3`` in others). A choice
field is kept as the values' text with the list of types seen, and stays so until ``resolveChoice`` (or
``apply_mapping``, which casts) resolves it, as the "ResolveChoice class" page describes.

Type names are Glue's: string, long, int, short, byte, double, float, boolean, timestamp, date, decimal, binary,
null. Field paths are top-level names (nested ``a.b`` paths are supported where noted, else NotImplementedError).
"""

from __future__ import annotations

import json

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from awsglue import Unimplemented, not_implemented

# Glue type name -> Spark SQL type name
SQL_TYPES = {
    "string": "string", "long": "bigint", "bigint": "bigint", "int": "int", "integer": "int", "short": "smallint",
    "smallint": "smallint", "byte": "tinyint", "tinyint": "tinyint", "double": "double", "float": "float",
    "boolean": "boolean", "timestamp": "timestamp", "date": "date", "binary": "binary", "decimal": "decimal(10,2)",
}
_INTEGRAL = r"^\s*[+-]?[0-9]+\s*$"
_FRACTIONAL = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"


def sql_type(glue_type: str) -> str:
    name = glue_type.strip().lower()
    if name.startswith("decimal(") or name.startswith("varchar(") or name.startswith("char("):
        return "string" if not name.startswith("decimal") else name
    if name not in SQL_TYPES:
        raise not_implemented(f"the type {glue_type!r}")
    return SQL_TYPES[name]


def glue_type_of(data_type: T.DataType) -> str:
    return {
        T.StringType: "string", T.LongType: "long", T.IntegerType: "int", T.ShortType: "short", T.ByteType: "byte",
        T.DoubleType: "double", T.FloatType: "float", T.BooleanType: "boolean", T.TimestampType: "timestamp",
        T.DateType: "date", T.BinaryType: "binary", T.NullType: "null", T.DecimalType: "decimal",
    }.get(type(data_type), data_type.simpleString())


def text_value_type(column) -> F.Column:
    """The type a text value reads as (Glue's CSV reader types each value): long, double or string."""
    return (F.when(column.isNull(), F.lit(None))
            .when(column.rlike(_INTEGRAL) & column.cast("bigint").isNotNull(), F.lit("long"))
            .when(column.rlike(_FRACTIONAL), F.lit("double"))
            .otherwise(F.lit("string")))


def _top_level(path: str, call: str) -> str:
    name = path.strip("`") if path.startswith("`") and path.endswith("`") else path
    if "." in path and not path.startswith("`"):
        raise not_implemented(f"{call} on the nested path {path!r}")
    return name


def _column(path: str) -> F.Column:
    """A field path as Glue writes it: dots for nesting, backticks around a name holding dots."""
    if path.startswith("`") and path.endswith("`"):
        return F.col(path)
    return F.col(".".join(f"`{p}`" for p in path.split(".")))


def _thresholds(call: str, stageThreshold: int = 0, totalThreshold: int = 0) -> None:
    # Glue counts error records against these; this library produces none, so only "never fail" (0) is exact.
    if stageThreshold or totalThreshold:
        raise not_implemented(f"{call} with stageThreshold/totalThreshold (error records)")


class DynamicFrame(Unimplemented):
    def __init__(self, df: DataFrame, glue_ctx, name: str = "", choices: dict[str, list[str]] | None = None):
        self._df = df
        self.glue_ctx = glue_ctx
        self.name = name
        self._choices = {k: list(v) for k, v in (choices or {}).items() if k in df.columns}

    # --- conversion ---------------------------------------------------------------------------------------------

    @staticmethod
    def fromDF(dataframe: DataFrame, glue_ctx, name: str) -> DynamicFrame:
        """A DataFrame as a DynamicFrame (its fields keep their types; no choices)."""
        return DynamicFrame(dataframe, glue_ctx, name)

    def toDF(self, options: list | None = None) -> DataFrame:
        """The DataFrame; a choice field becomes a struct with one field per type (as ResolveChoice make_struct),
        since a DataFrame has no choice type."""
        if options:
            raise not_implemented("DynamicFrame.toDF with options")
        return self._resolve_all("make_struct")._df if self._choices else self._df

    def _derive(self, df: DataFrame, choices: dict[str, list[str]] | None = None) -> DynamicFrame:
        return DynamicFrame(df, self.glue_ctx, self.name, self._choices if choices is None else choices)

    # --- inspection ---------------------------------------------------------------------------------------------

    def count(self) -> int:
        return self._df.count()

    def schema(self) -> T.StructType:
        """The Spark schema (a choice field shows as the string holding its values; ``printSchema`` shows the
        choice)."""
        return self._df.schema

    def _schema_lines(self) -> list[str]:
        lines = ["root"]
        for field in self._df.schema.fields:
            if field.name in self._choices:
                lines.append(f"|-- {field.name}: choice")
                lines.extend(f"|    |-- {t}" for t in self._choices[field.name])
            else:
                lines.append(f"|-- {field.name}: {glue_type_of(field.dataType)}")
        return lines

    def printSchema(self) -> None:
        print("\n".join(self._schema_lines()) + "\n")

    def show(self, num_rows: int = 20) -> None:
        """Prints the first records as JSON objects, one a line, as Glue does."""
        for row in self._df.limit(num_rows).collect():
            print(json.dumps({k: v for k, v in row.asDict(recursive=True).items() if v is not None}, default=str))

    # --- field transforms ---------------------------------------------------------------------------------------

    def select_fields(self, paths: list[str], transformation_ctx: str = "", info: str = "",
                      stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        """Only the named fields (paths that do not exist are left out, as Glue does)."""
        _thresholds("select_fields", stageThreshold, totalThreshold)
        names = [_top_level(p, "select_fields") for p in ([paths] if isinstance(paths, str) else paths)]
        return self._derive(self._df.select(*[F.col(f"`{n}`") for n in names if n in self._df.columns]))

    def drop_fields(self, paths: list[str], transformation_ctx: str = "", info: str = "",
                    stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        _thresholds("drop_fields", stageThreshold, totalThreshold)
        names = [_top_level(p, "drop_fields") for p in ([paths] if isinstance(paths, str) else paths)]
        return self._derive(self._df.drop(*names))

    def rename_field(self, oldName: str, newName: str, transformation_ctx: str = "", info: str = "",
                     stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        _thresholds("rename_field", stageThreshold, totalThreshold)
        old, new = _top_level(oldName, "rename_field"), _top_level(newName, "rename_field")
        choices = {(new if k == old else k): v for k, v in self._choices.items()}
        return self._derive(self._df.withColumnRenamed(old, new), choices)

    def apply_mapping(self, mappings: list, case_sensitive: bool = False, transformation_ctx: str = "",
                      info: str = "", stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        """``[(source path, source type, target name, target type), ...]``: the output holds only the mapped
        fields, each cast to its target type ("ApplyMapping class"). A source field that is missing gives no
        output field; a value that does not convert becomes null. Source paths may be nested (``a.b``)."""
        _thresholds("apply_mapping", stageThreshold, totalThreshold)
        columns = []
        lower = {c.lower(): c for c in self._df.columns}
        for mapping in [mappings] if isinstance(mappings, tuple) else mappings:
            if not isinstance(mapping, tuple):
                raise TypeError(f"Mapping must be specified as a tuple. Got {mapping!r}")
            if len(mapping) != 4:
                raise not_implemented(f"apply_mapping with a mapping tuple of length {len(mapping)}")
            source, _source_type, target, target_type = mapping
            target = _top_level(target, "apply_mapping (nested target)")
            head = source.strip("`").split(".")[0] if not source.startswith("`") else source.strip("`")
            if head not in self._df.columns:
                if case_sensitive or head.lower() not in lower:
                    continue
                source = lower[head.lower()] + source[len(head):]
            columns.append(F.expr(f"try_cast({_sql_ref(source)} AS {sql_type(target_type)})").alias(target))
        return self._derive(self._df.select(*columns), {})

    def resolveChoice(self, specs: list | None = None, choice: str = "", database: str | None = None,
                      table_name: str | None = None, transformation_ctx: str = "", info: str = "",
                      stageThreshold: int = 0, totalThreshold: int = 0, catalog_id: str | None = None
                      ) -> DynamicFrame:
        """Resolve choice fields ("ResolveChoice class"): ``specs`` ``[(path, action)]`` or one ``choice`` for all
        choice fields, not both. Actions: ``cast:<type>`` (every value cast; one that does not convert is null),
        ``project:<type>`` (values of that type kept, others null), ``make_cols`` (one field ``<name>_<type>``
        per type), ``make_struct`` (a struct with one field per type), ``match_catalog`` (cast to the type of
        ``database.table_name``). A spec's cast also applies to a field that is not a choice."""
        _thresholds("resolveChoice", stageThreshold, totalThreshold)
        if specs is None and not choice:
            raise Exception("Parameter specs and option are both missing, add one.")
        if specs is not None and choice:
            raise Exception("Parameter specs and option are both specified, choose one.")
        specs = [specs] if isinstance(specs, tuple) else specs
        catalog_types = None
        actions = specs if specs is not None else [(name, choice) for name in self._choices]
        if any(action == "match_catalog" for _, action in actions):
            if not (database and table_name):
                raise ValueError("match_catalog needs database and table_name")
            from awsglue import catalog

            catalog_types = {c["Name"]: c["Type"] for c in catalog.columns(database, table_name, catalog_id)}
        frame = self
        for path, action in actions:
            name = _top_level(path, "resolveChoice")
            if action == "match_catalog":
                if name not in catalog_types:
                    raise ValueError(f"match_catalog: {name} is not a column of {database}.{table_name}")
                action = f"cast:{catalog_types[name]}"
            frame = frame._resolve(name, action)
        return frame

    def _resolve_all(self, action: str) -> DynamicFrame:
        frame = self
        for name in list(self._choices):
            frame = frame._resolve(name, action)
        return frame

    def _resolve(self, name: str, action: str) -> DynamicFrame:
        if name not in self._df.columns:
            return self
        kind, _, type_name = action.partition(":")
        types = self._choices.get(name)
        df = self._df
        choices = {k: v for k, v in self._choices.items() if k != name}
        column = F.col(f"`{name}`")
        if kind == "cast":
            df = df.withColumn(name, F.expr(f"try_cast(`{name}` AS {sql_type(type_name)})"))
        elif types is None:
            if kind not in ("project", "make_cols", "make_struct"):
                raise ValueError(f"unknown ResolveChoice action {action!r}")
            return self  # not a choice: nothing to resolve
        elif kind == "project":
            df = df.withColumn(name, _project(column, type_name))
        elif kind == "make_cols":
            position = df.columns.index(name)
            projected = [_project(column, t).alias(f"{name}_{t}") for t in types]
            others = [F.col(f"`{c}`") for c in df.columns]
            df = df.select(*others[:position], *projected, *others[position + 1:])
        elif kind == "make_struct":
            df = df.withColumn(name, F.struct(*[_project(column, t).alias(t) for t in types]))
        else:
            raise ValueError(f"unknown ResolveChoice action {action!r}")
        return self._derive(df, choices)

    # --- record transforms --------------------------------------------------------------------------------------

    def filter(self, f, transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
               totalThreshold: int = 0) -> DynamicFrame:
        """Records for which ``f(record)`` is true; a record is a dict of its fields ("Filter class"). A record
        for which ``f`` raises is not in the output (Glue: KeyError, ValueError and TypeError count as false, other
        exceptions make it an error record)."""
        _thresholds("filter", stageThreshold, totalThreshold)
        from awsglue import records

        schema, choices = self._df.schema, self._choices

        def keep(row) -> bool:
            try:
                return bool(f(records.typed(row.asDict(recursive=True), choices)))
            except Exception:
                return False

        rows = self._df.rdd.filter(keep)
        return self._derive(self._df.sparkSession.createDataFrame(rows, schema))

    def map(self, f, transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
            totalThreshold: int = 0) -> DynamicFrame:
        """``f(record) -> record`` on every record ("Map class"); the output's fields and types are those of
        the returned records (a field holding values of several types becomes a choice). A record for which ``f``
        raises or returns None is an error record in Glue: it is not in the output."""
        _thresholds("map", stageThreshold, totalThreshold)
        from awsglue import records

        choices = self._choices

        def apply(row):
            try:
                result = f(records.typed(row.asDict(recursive=True), choices))
            except Exception:
                return []
            return [] if result is None else [dict(result)]

        mapped = self._df.rdd.flatMap(apply).cache()
        schema, out_choices = records.infer(mapped, self._df.schema)
        df = self._df.sparkSession.createDataFrame(mapped.map(records.converter(schema, out_choices)), schema)
        return self._derive(df, out_choices)

    def repartition(self, num_partitions: int, transformation_ctx: str = "", info: str = "",
                    stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        return self._derive(self._df.repartition(num_partitions))

    def coalesce(self, num_partitions: int, shuffle: bool = False, transformation_ctx: str = "", info: str = "",
                 stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        df = self._df.repartition(num_partitions) if shuffle else self._df.coalesce(num_partitions)
        return self._derive(df)

    def join(self, paths1: list[str], paths2: list[str], frame2: DynamicFrame, transformation_ctx: str = "",
             info: str = "", stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        """Equality join on paths1 = paths2; the output keeps every field of both frames ("Join class")."""
        _thresholds("join", stageThreshold, totalThreshold)
        left, right = self._df.alias("l"), frame2._df.alias("r")
        condition = None
        paths1 = [paths1] if isinstance(paths1, str) else paths1
        paths2 = [paths2] if isinstance(paths2, str) else paths2
        for a, b in zip(paths1, paths2, strict=True):
            term = F.col(f"l.`{_top_level(a, 'join')}`") == F.col(f"r.`{_top_level(b, 'join')}`")
            condition = term if condition is None else condition & term
        clash = (set(self._df.columns) & set(frame2._df.columns))
        if clash:
            raise ValueError(f"join: both frames have the fields {sorted(clash)}; rename one side first")
        joined = DynamicFrame(left.join(right, condition, "inner"), self.glue_ctx, self.name + frame2.name,
                              {**self._choices, **frame2._choices})
        return joined


def _sql_ref(path: str) -> str:
    if path.startswith("`"):
        return path
    return ".".join(f"`{p}`" for p in path.split("."))


def _project(text: F.Column, type_name: str) -> F.Column:
    """The values of a choice field that are of ``type_name``, cast to it; others null."""
    kind = text_value_type(text)
    if type_name == "string":
        return F.when(kind == "string", text)
    if type_name == "long":
        return F.when(kind == "long", text.cast("bigint"))
    if type_name == "double":  # a choice of double and string: whole numbers are doubles too
        return F.when(kind.isin("double", "long"), text.cast("double"))
    raise not_implemented(f"a choice of type {type_name!r}")
