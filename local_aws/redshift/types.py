"""Redshift's type rules that DuckDB does not share, applied to a parsed statement (sqlglot tree, Redshift dialect).

Character lengths ("Character types", redshift/latest/dg/r_Character_types.html): VARCHAR(n) and CHAR(n) hold at
most n *bytes* of UTF-8; VARCHAR without a length is VARCHAR(256), TEXT is VARCHAR(256), CHAR without a length is
CHAR(1), VARCHAR(MAX) is VARCHAR(65535); VARCHAR is at most 65535 bytes and CHAR 4096. DuckDB's VARCHAR has no
length, so CREATE TABLE gets a CHECK constraint per character column (``strlen`` counts bytes; CHAR's is spelt
``octet_length(encode(..))`` so the failure names the right type). INSERT, UPDATE and COPY all go through it, and the
check is in the DuckDB catalog, so it survives restarts. ``value_too_long`` rewords DuckDB's failure the way
Redshift words it.

Numeric results ("Computations with numeric values", redshift/latest/dg/r_numeric_computations201.html, and
"AVG function", "SUM function"): integer / integer is integer division (the cursor's ``integer_division`` setting);
DECIMAL results of * and / take Redshift's precision and scale (DuckDB's / on decimals is DOUBLE); AVG of an
integer is a BIGINT, truncated; AVG of DECIMAL(p, s) is DECIMAL(38, s); SUM of an integer is a BIGINT.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp

from local_aws.redshift.errors import RedshiftError, UnsupportedError

DT = exp.DataType.Type
_VARYING = {DT.VARCHAR, DT.NVARCHAR, DT.TEXT}
_FIXED = {DT.CHAR, DT.NCHAR, DT.BPCHAR}
VARCHAR_MAX, CHAR_MAX = 65535, 4096
_CHECK = re.compile(r"^\(?(strlen|octet_length)\((?:encode\()?\"?([^\")]+)\"?\)?\) <= (\d+)\)?$")
_FAILED_CHECK = re.compile(r"CHECK constraint failed on table \S+ with expression CHECK\(\((strlen|octet_length)\(")
_FAILED_LIMIT = re.compile(r"<= (\d+)\)\)")


# --- character lengths -----------------------------------------------------------------------------------------

def declared_length(kind: exp.DataType) -> tuple[str, int] | None:
    """('character varying' | 'character', bytes) for a character type, None for any other type; RedshiftError
    for a length over Redshift's maximum."""
    if kind.this in _VARYING:
        name, default, maximum = "character varying", 256, VARCHAR_MAX
    elif kind.this in _FIXED:
        name, default, maximum = "character", 1, CHAR_MAX
    else:
        return None
    if kind.this == DT.TEXT or not kind.expressions:
        return name, default
    raw = kind.expressions[0].sql().upper()
    if raw == "MAX":
        return name, maximum
    length = int(raw)
    if length > maximum:
        short = "varchar" if name == "character varying" else "char"
        raise RedshiftError(f"length for type {short} cannot exceed {maximum}")
    if length < 1:
        raise RedshiftError(f"length for type {name} must be at least 1")
    return name, length


def length_check(column: str, name: str, length: int) -> exp.ColumnConstraint:
    quoted = exp.to_identifier(column, quoted=True)
    value = exp.column(quoted)
    measured = (exp.Anonymous(this="strlen", expressions=[value]) if name == "character varying" else
                exp.Anonymous(this="octet_length", expressions=[exp.Anonymous(this="encode", expressions=[value])]))
    within = exp.LTE(this=measured, expression=exp.Literal.number(length))
    return exp.ColumnConstraint(kind=exp.CheckColumnConstraint(this=within))


def add_length_checks(tree: exp.Expression) -> None:
    """CREATE TABLE: a byte-length CHECK on every character column. ALTER TABLE ADD COLUMN of a character column is
    refused: DuckDB cannot add a CHECK there, and a column without its length would accept what Redshift refuses."""
    if isinstance(tree, exp.Create) and tree.kind == "TABLE" and isinstance(tree.this, exp.Schema):
        for column in tree.this.expressions:
            if not isinstance(column, exp.ColumnDef) or not isinstance(column.args.get("kind"), exp.DataType):
                continue
            declared = declared_length(column.args["kind"])
            if declared:
                column.append("constraints", length_check(column.name, *declared))
                column.args["kind"].set("expressions", [])  # the CHECK holds the length; DuckDB has no MAX
    if isinstance(tree, exp.Alter):
        for action in tree.args.get("actions") or []:
            if isinstance(action, exp.ColumnDef) and isinstance(action.args.get("kind"), exp.DataType) \
                    and declared_length(action.args["kind"]):
                raise UnsupportedError("ALTER TABLE ADD COLUMN of a CHAR or VARCHAR column (its byte length "
                                       "could not be enforced)")


def column_lengths(constraints: list[tuple[str]]) -> dict[str, tuple[str, int]]:
    """{column (lower case): (type name, bytes)} from duckdb_constraints() expressions made by ``length_check``."""
    found = {}
    for (expression,) in constraints:
        match = _CHECK.match(expression.strip())
        if match:
            function, column, length = match.groups()
            found[column.lower()] = ("character varying" if function == "strlen" else "character", int(length))
    return found


def value_too_long(duckdb_message: str) -> str | None:
    """Redshift's INSERT/UPDATE error for a failed length CHECK, or None for any other message."""
    match = _FAILED_CHECK.search(duckdb_message)
    limit = _FAILED_LIMIT.search(duckdb_message)
    if not match or not limit:
        return None
    name = "character varying" if match.group(1) == "strlen" else "character"
    return f"value too long for type {name}({limit.group(1)})"


# --- numeric results -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Numeric:
    """A Redshift numeric type: kind 'int' (bits 16/32/64), 'decimal' (precision, scale) or 'float'."""

    kind: str
    precision: int = 0
    scale: int = 0

    def as_decimal(self) -> Numeric:
        if self.kind == "int":
            return Numeric("decimal", {16: 5, 32: 10, 64: 19}[self.precision], 0)
        return self


_INT_BITS = {"SMALLINT": 16, "INT2": 16, "TINYINT": 16, "INTEGER": 32, "INT": 32, "INT4": 32, "BIGINT": 64,
             "INT8": 64, "HUGEINT": 64}
_FLOATS = ("DOUBLE", "FLOAT", "REAL", "FLOAT4", "FLOAT8", "DOUBLE PRECISION")


def numeric_of(type_name: str | None) -> Numeric | None:
    if not type_name:
        return None
    upper = type_name.upper().strip()
    if upper in _INT_BITS:
        return Numeric("int", _INT_BITS[upper])
    if upper.startswith(("DECIMAL", "NUMERIC")):
        inside = re.findall(r"\d+", upper)
        precision, scale = (int(inside[0]), int(inside[1]) if len(inside) > 1 else 0) if inside else (18, 0)
        return Numeric("decimal", precision, scale)
    if upper in _FLOATS:
        return Numeric("float")
    return None


def _literal(node: exp.Literal) -> Numeric | None:
    if node.is_string:
        return None
    text = node.this
    if re.fullmatch(r"\d+", text):
        return Numeric("int", 32 if int(text) <= 2**31 - 1 else 64)
    if re.fullmatch(r"\d*\.\d+|\d+\.\d*", text):
        whole, _, fraction = text.partition(".")
        digits = len(whole.lstrip("0")) + len(fraction)
        return Numeric("decimal", max(digits, len(fraction), 1), len(fraction))
    return Numeric("float")


def _literal_scale(text: str) -> int:
    _, _, fraction = text.strip().partition(".")
    return len(fraction) if fraction.isdigit() else 0


def _combine(left: Numeric, right: Numeric, op: type) -> Numeric:
    """The result type of a binary operation, per "Return types for computations" and "Precision and scale of
    computed DECIMAL results" (maximum precision and scale 38)."""
    if "float" in (left.kind, right.kind):
        return Numeric("float")
    if left.kind == right.kind == "int":
        return Numeric("int", max(left.precision, right.precision))
    (p1, s1), (p2, s2) = ((t.as_decimal().precision, t.as_decimal().scale) for t in (left, right))
    if op in (exp.Add, exp.Sub):
        scale = max(s1, s2)
        precision = max(p1 - s1, p2 - s2) + 1 + scale
    elif op is exp.Mul:
        scale, precision = s1 + s2, p1 + p2 + 1
    else:
        scale = max(4, s1 + p2 - s2 + 1)
        precision = p1 - s1 + s2 + scale
    return Numeric("decimal", min(precision, 38), min(scale, 38))


def _decimal_type(numeric: Numeric) -> exp.DataType:
    return exp.DataType.build(f"DECIMAL({numeric.precision}, {numeric.scale})")


class NumericRules:
    """Infers Redshift's numeric type of expressions bottom-up and rewrites where DuckDB's result type differs.
    ``column_type(column)`` gives a column's DuckDB type name (or None when unknown)."""

    def __init__(self, column_type):
        self.column_type = column_type
        self.types: dict[int, Numeric | None] = {}

    def type_of(self, node: exp.Expression) -> Numeric | None:
        if id(node) in self.types:
            return self.types[id(node)]
        result: Numeric | None = None
        if isinstance(node, exp.Literal):
            result = _literal(node)
        elif isinstance(node, exp.Column):
            result = numeric_of(self.column_type(node)) or self._derived_type(node)
        elif isinstance(node, exp.Alias):
            result = self.type_of(node.this)
        elif isinstance(node, (exp.Cast, exp.TryCast)):
            result = numeric_of(node.to.sql(dialect="duckdb"))
        elif isinstance(node, (exp.Paren, exp.Neg)):
            result = self.type_of(node.this)
        elif isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Div)):
            left, right = self.type_of(node.this), self.type_of(node.expression)
            result = _combine(left, right, type(node)) if left and right else None
        elif isinstance(node, exp.Sum):
            inner = self.type_of(node.this)
            if inner and inner.kind == "int":
                result = Numeric("int", 64)
            elif inner and inner.kind == "decimal":
                result = Numeric("decimal", 38, inner.scale)
            else:
                result = inner
        elif isinstance(node, exp.Avg):
            inner = self.type_of(node.this)
            result = Numeric("int", 64) if inner and inner.kind == "int" else (
                Numeric("decimal", 38, inner.scale) if inner and inner.kind == "decimal" else inner)
        elif isinstance(node, exp.Count):
            result = Numeric("int", 64)
        self.types[id(node)] = result
        return result

    def _derived_type(self, column: exp.Column) -> Numeric | None:
        """The type of a column of a subquery or CTE the column's SELECT reads: that of the projection it names
        (the first branch's, for a UNION)."""
        select = column.find_ancestor(exp.Select)
        if select is None:
            return None
        ctes = {cte.alias_or_name.lower(): cte.this for cte in column.root().find_all(exp.CTE)}
        sources = []
        for source in [select.args.get("from_") or select.args.get("from"), *(select.args.get("joins") or [])]:
            relation = source.this if source is not None else None
            if isinstance(relation, exp.Subquery):
                sources.append((relation.alias_or_name.lower(), relation.this))
            elif isinstance(relation, exp.Table) and not relation.db and relation.name.lower() in ctes:
                sources.append((relation.alias_or_name.lower(), ctes[relation.name.lower()]))
        if column.table:
            sources = [s for s in sources if s[0] == column.table.lower()]
        for _, query in sources:
            while isinstance(query, exp.SetOperation):
                query = query.left
            if not isinstance(query, exp.Select):
                continue
            for projection in query.expressions:
                if projection.alias_or_name.lower() == column.name.lower():
                    return self.type_of(projection)
        return None

    def rewrite(self, tree: exp.Expression) -> None:
        self._refuse_mixed_operators(tree)
        self._coerce_unknown_literals(tree)
        # post-order: an operand is typed before the operation that uses it is replaced
        for node in list(tree.find_all(exp.Div, exp.Mul, exp.Sum, exp.Avg, bfs=False))[::-1]:
            self._rewrite_one(node)

    def _pg_type(self, node: exp.Expression) -> str | None:
        """PostgreSQL's name of a boolean, date/time or numeric operand's type, None when unknown."""
        if isinstance(node, exp.Boolean):
            return "boolean"
        kind = None
        if isinstance(node, exp.Column):
            kind = (self.column_type(node) or "").upper()
        elif isinstance(node, exp.Cast):
            kind = node.to.sql(dialect="duckdb").upper()
        if kind in ("BOOLEAN", "DATE") or (kind or "").startswith("TIMESTAMP"):
            return {"BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp without time zone"}.get(
                kind, "timestamp with time zone")
        numeric = self.type_of(node)
        if numeric is None:
            return None
        if numeric.kind == "int":
            return {16: "smallint", 32: "integer", 64: "bigint"}[numeric.precision]
        return "numeric" if numeric.kind == "decimal" else "double precision"

    def _refuse_mixed_operators(self, tree: exp.Expression) -> None:
        """"Type compatibility and conversion" (c_Supported_data_types): BOOLEAN converts to no numeric type, and
        dates/times to none either; comparing or adding them fails as on Redshift (PostgreSQL's wording), where
        DuckDB would cast."""
        operators = {exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<=",
                     exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/"}
        for node in tree.find_all(*operators):
            left, right = self._pg_type(node.this), self._pg_type(node.expression)
            if left is None or right is None:
                continue
            temporal = ("date", "timestamp without time zone", "timestamp with time zone")
            kinds = {"boolean" if t == "boolean" else "temporal" if t in temporal else "number" for t in (left, right)}
            mixed_boolean = kinds == {"boolean", "number"} or kinds == {"boolean", "temporal"}
            temporal_compared = kinds == {"temporal", "number"} and not isinstance(node, (exp.Add, exp.Sub))
            if mixed_boolean or temporal_compared:
                raise RedshiftError(f"operator does not exist: {left} {operators[type(node)]} {right}")

    def _coerce_unknown_literals(self, tree: exp.Expression) -> None:
        """A quoted literal in arithmetic has PostgreSQL's "unknown" type and takes the other operand's type
        (Redshift answers ``1 + '2'`` with 3; DuckDB cannot choose an operator)."""
        for node in list(tree.find_all(exp.Add, exp.Sub, exp.Mul, exp.Div, bfs=False))[::-1]:
            for literal, other in ((node.this, node.expression), (node.expression, node.this)):
                if isinstance(literal, exp.Literal) and literal.is_string:
                    other_type = self.type_of(other)
                    if other_type is not None:
                        kind = {16: "SMALLINT", 32: "INTEGER", 64: "BIGINT"}.get(other_type.precision, "INTEGER") \
                            if other_type.kind == "int" else "DOUBLE" if other_type.kind == "float" else \
                            f"DECIMAL(38, {max(other_type.scale, _literal_scale(literal.this))})"
                        cast = exp.Cast(this=literal.copy(), to=exp.DataType.build(kind))
                        literal.replace(cast)
                        self.types.pop(id(node), None)

    def _rewrite_one(self, node: exp.Expression) -> None:
        result = self.type_of(node)
        if result is None:
            return
        if isinstance(node, exp.Div) and result.kind == "decimal":
            # DuckDB divides decimals as DOUBLE (and fails on a zero divisor, as Redshift does): cast to the type
            self._replace(node, exp.Cast(this=exp.Paren(this=node.copy()), to=_decimal_type(result)), result)
        elif isinstance(node, exp.Mul) and result.kind == "decimal":
            self._replace(node, exp.Cast(this=exp.Paren(this=node.copy()), to=_decimal_type(result)), result)
        elif isinstance(node, (exp.Sum, exp.Avg)):
            # an aggregate used as a window function is cast as a whole: CAST(SUM(x) OVER (...) AS ...)
            call = node.parent if isinstance(node.parent, exp.Window) else node
            if isinstance(node, exp.Sum) and result.kind == "int":
                self._replace(call, exp.Cast(this=call.copy(), to=exp.DataType.build("BIGINT")), result, node)
            elif isinstance(node, exp.Avg) and result.kind == "int" and not isinstance(node.this, exp.Distinct):
                truncated = exp.func("trunc", call.copy())
                self._replace(call, exp.Cast(this=truncated, to=exp.DataType.build("BIGINT")), result, node)
            elif isinstance(node, exp.Avg) and result.kind == "decimal":
                self._replace(call, exp.Cast(this=call.copy(), to=_decimal_type(result)), result, node)

    def _replace(self, node: exp.Expression, replacement: exp.Expression, result: Numeric,
                 function: exp.Expression | None = None) -> None:
        if isinstance(node.parent, exp.Select) and node.arg_key == "expressions":
            # an unaliased output column keeps the name Redshift gives it: the function's, or ?column?
            name = function.key if function is not None else "?column?"
            replacement = exp.alias_(replacement, name, quoted=True)
        self.types[id(replacement)] = result
        node.replace(replacement)
