"""Partition pruning from simple WHERE predicates on partition keys.

Only conjuncts of the form ``key <op> literal`` (=, <>, <, <=, >, >=), ``key IN (literals)`` and
``key BETWEEN literal AND literal`` prune, ``key`` being a partition key or ``CAST(key AS varchar)`` (compared as
text); anything else (OR, functions, subqueries) keeps every partition. Pruning
only ever skips partitions the WHERE clause would filter out anyway, so results never depend on it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from local_aws.catalog_tables import GlueTable, python_value

_COMPARISONS: dict[type, Callable[[Any, Any], bool]] = {
    exp.EQ: operator.eq,
    exp.NEQ: operator.ne,
    exp.LT: operator.lt,
    exp.LTE: operator.le,
    exp.GT: operator.gt,
    exp.GTE: operator.ge,
}
# `literal < key` is `key > literal`.
_MIRRORED = {exp.LT: exp.GT, exp.LTE: exp.GTE, exp.GT: exp.LT, exp.GTE: exp.LTE, exp.EQ: exp.EQ, exp.NEQ: exp.NEQ}

Check = Callable[[dict[str, Any]], bool]


def _literal_text(node: exp.Expression) -> str | None:
    """The text of a literal, also through CAST/typed literals (DATE '2021-12-01'); None if not a literal."""
    while isinstance(node, exp.Cast | exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal):
        return node.this
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return "-" + node.this.this
    if isinstance(node, exp.Boolean):
        return "true" if node.this else "false"
    return None


def _conjuncts(where: exp.Expression | None) -> list[exp.Expression]:
    if where is None:
        return []
    node = where.this if isinstance(where, exp.Where) else where
    return list(node.flatten()) if isinstance(node, exp.And) else [node]


_TEXT_TYPES = {exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR, exp.DataType.Type.TEXT, exp.DataType.Type.NVARCHAR}
# Partition key types whose catalog text is what CAST(key AS varchar) yields (no leading zeros, no formatting).
_TEXT_SAFE = ("string", "varchar", "char", "tinyint", "smallint", "int", "integer", "bigint")


@dataclass(frozen=True)
class _Key:
    name: str
    as_text: bool  # the query compares CAST(key AS varchar): compare the text, not the typed value

    def value(self, values: dict[str, Any]) -> Any:
        value = values[self.name]
        return None if value is None else (str(value) if self.as_text else value)


def _key_for(node: exp.Expression, alias: str, table: GlueTable, single_table: bool) -> _Key | None:
    as_text = False
    if isinstance(node, exp.Cast) and node.to.this in _TEXT_TYPES:
        node, as_text = node.this, True
    if not isinstance(node, exp.Column):
        return None
    if node.table and node.table.lower() != alias.lower():
        return None
    if not node.table and not single_table:
        return None
    key = next((k for k in table.partition_keys if k.name.lower() == node.name.lower()), None)
    if key is None:
        return None
    if as_text and key.glue_type.lower().split("(")[0] not in _TEXT_SAFE:
        return None
    return _Key(key.name, as_text)


def _typed(table: GlueTable, key: _Key, text: str | None) -> Any:
    if text is None:
        raise ValueError("not a literal")
    if key.as_text:
        return text
    glue_type = next(k.glue_type for k in table.partition_keys if k.name == key.name)
    return python_value(glue_type, text)


def _check(node: exp.Expression, alias: str, table: GlueTable, single_table: bool) -> Check | None:
    try:
        if type(node) in _COMPARISONS:
            left, right, kind = node.this, node.expression, type(node)
            if _key_for(left, alias, table, single_table) is None:
                left, right, kind = right, left, _MIRRORED[kind]
            key = _key_for(left, alias, table, single_table)
            if key is None:
                return None
            value, compare = _typed(table, key, _literal_text(right)), _COMPARISONS[kind]
            return lambda values: key.value(values) is None or compare(key.value(values), value)
        if isinstance(node, exp.In) and not node.args.get("query"):
            key = _key_for(node.this, alias, table, single_table)
            if key is None:
                return None
            allowed = {_typed(table, key, _literal_text(e)) for e in node.expressions}
            return lambda values: key.value(values) is None or key.value(values) in allowed
        if isinstance(node, exp.Between):
            key = _key_for(node.this, alias, table, single_table)
            if key is None:
                return None
            low = _typed(table, key, _literal_text(node.args["low"]))
            high = _typed(table, key, _literal_text(node.args["high"]))
            return lambda values: key.value(values) is None or low <= key.value(values) <= high
    except (ValueError, TypeError, StopIteration):
        return None
    return None


def partition_filter(select: exp.Expression, alias: str, table: GlueTable, single_table: bool) -> Check | None:
    """A predicate over typed partition values for one table reference in a SELECT; None when nothing prunes."""
    if not table.partition_keys:
        return None
    checks = [c for c in (_check(n, alias, table, single_table) for n in _conjuncts(select.args.get("where"))) if c]
    if not checks:
        return None

    def keep(values: dict[str, Any]) -> bool:
        try:
            return all(check(values) for check in checks)
        except TypeError:  # incomparable values: never prune on a doubt
            return True

    return keep
