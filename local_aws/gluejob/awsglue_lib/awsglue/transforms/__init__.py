"""``awsglue.transforms``: the transform classes, each ``X.apply(frame=..., ...)`` (AWS Glue developer guide,
"ApplyMapping class", "ResolveChoice class", "DropNullFields class", "Filter class", "Map class", "Join class",
"SelectFields class", "DropFields class", "RenameField class"). Each delegates to the DynamicFrame method of the
same meaning (``awsglue.dynamicframe``)."""

from __future__ import annotations

from pyspark.sql import functions as F
from pyspark.sql import types as T

from awsglue import not_implemented
from awsglue.dynamicframe import DynamicFrame

__all__ = ["GlueTransform", "ApplyMapping", "ResolveChoice", "DropNullFields", "Filter", "Map", "Join",
           "SelectFields", "DropFields", "RenameField", "Relationalize", "Unbox", "UnnestFrame", "SplitFields",
           "SplitRows", "Spigot", "ErrorsAsDynamicFrame", "FlatMap", "MapToCollection"]


class GlueTransform:
    @classmethod
    def apply(cls, *args, **kwargs):
        return cls()(*args, **kwargs)

    @classmethod
    def name(cls) -> str:
        return cls.__name__


class ApplyMapping(GlueTransform):
    def __call__(self, frame: DynamicFrame, mappings: list, transformation_ctx: str = "", info: str = "",
                 stageThreshold: int = 0, totalThreshold: int = 0):
        return frame.apply_mapping(mappings, False, transformation_ctx, info, stageThreshold, totalThreshold)


class ResolveChoice(GlueTransform):
    def __call__(self, frame: DynamicFrame, specs: list | None = None, choice: str = "", database: str | None = None,
                 table_name: str | None = None, transformation_ctx: str = "", info: str = "",
                 stageThreshold: int = 0, totalThreshold: int = 0, catalog_id: str | None = None):
        return frame.resolveChoice(specs, choice, database, table_name, transformation_ctx, info, stageThreshold,
                                   totalThreshold, catalog_id)


class DropNullFields(GlueTransform):
    """Drops the fields that are null in every record (their type is NullType), not the records: "These are
    fields with missing or null values in every record in the DynamicFrame data set." Empty strings are values.
    Fields of nested structs are checked too."""

    def __call__(self, frame: DynamicFrame, transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
                 totalThreshold: int = 0):
        if stageThreshold or totalThreshold:
            raise not_implemented("DropNullFields with stageThreshold/totalThreshold (error records)")
        df = frame._df
        leaves = _leaf_paths(df.schema)
        if not leaves:
            return frame
        ref = lambda path: F.col(".".join(f"`{p}`" for p in path))  # noqa: E731
        counts = df.agg(*[F.count(ref(p)).alias(str(i)) for i, p in enumerate(leaves)]).first()
        nulls = [p for i, (p, data_type) in enumerate(leaves.items()) if counts[str(i)] == 0
                 or isinstance(data_type, T.NullType)]
        for path in nulls:
            if len(path) == 1:
                df = df.drop(path[0])
            elif path[0] in df.columns:
                df = df.withColumn(path[0], F.col(f"`{path[0]}`").dropFields(".".join(path[1:])))
        return frame._derive(df)


def _leaf_paths(schema: T.StructType, prefix: tuple = ()) -> dict:
    """Each field that is not a struct, by path, through nested structs (as Glue's DropNullFields walks the
    schema; arrays and maps are not entered)."""
    leaves = {}
    for field in schema.fields:
        path = (*prefix, field.name)
        if isinstance(field.dataType, T.StructType) and field.dataType.fields:
            leaves.update(_leaf_paths(field.dataType, path))
        else:
            leaves[path] = field.dataType
    return leaves


class Filter(GlueTransform):
    def __call__(self, frame: DynamicFrame, f, transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
                 totalThreshold: int = 0):
        return frame.filter(f, transformation_ctx, info, stageThreshold, totalThreshold)


class Map(GlueTransform):
    def __call__(self, frame: DynamicFrame, f, transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
                 totalThreshold: int = 0):
        return frame.map(f, transformation_ctx, info, stageThreshold, totalThreshold)


class Join(GlueTransform):
    def __call__(self, frame1: DynamicFrame, frame2: DynamicFrame, keys1: list[str], keys2: list[str],
                 transformation_ctx: str = ""):
        return frame1.join(keys1, keys2, frame2, transformation_ctx)


class SelectFields(GlueTransform):
    def __call__(self, frame: DynamicFrame, paths: list[str], transformation_ctx: str = "", info: str = "",
                 stageThreshold: int = 0, totalThreshold: int = 0):
        return frame.select_fields(paths, transformation_ctx, info, stageThreshold, totalThreshold)


class DropFields(GlueTransform):
    def __call__(self, frame: DynamicFrame, paths: list[str], transformation_ctx: str = "", info: str = "",
                 stageThreshold: int = 0, totalThreshold: int = 0):
        return frame.drop_fields(paths, transformation_ctx, info, stageThreshold, totalThreshold)


class RenameField(GlueTransform):
    def __call__(self, frame: DynamicFrame, old_name: str, new_name: str, transformation_ctx: str = "",
                 info: str = "", stageThreshold: int = 0, totalThreshold: int = 0):
        return frame.rename_field(old_name, new_name, transformation_ctx, info, stageThreshold, totalThreshold)


def _unimplemented(name: str):
    class Transform(GlueTransform):
        def __call__(self, *args, **kwargs):
            raise not_implemented(f"awsglue.transforms.{name}")

    Transform.__name__ = Transform.__qualname__ = name
    return Transform


Relationalize = _unimplemented("Relationalize")
Unbox = _unimplemented("Unbox")
UnnestFrame = _unimplemented("UnnestFrame")
SplitFields = _unimplemented("SplitFields")
SplitRows = _unimplemented("SplitRows")
Spigot = _unimplemented("Spigot")
ErrorsAsDynamicFrame = _unimplemented("ErrorsAsDynamicFrame")
FlatMap = _unimplemented("FlatMap")
MapToCollection = _unimplemented("MapToCollection")
