"""Late-binding views (CREATE VIEW ... WITH NO SCHEMA BINDING) as Redshift has them, and the checks Redshift makes
on regular views that DuckDB does not.

"CREATE VIEW" (Amazon Redshift Database Developer Guide, r_CREATE_VIEW.html, WITH NO SCHEMA BINDING and the usage
notes "Late-binding views"): a late-binding view is not bound to what it references; it can be created even if the
referenced objects don't exist, they can be dropped or altered without dropping the view, and Redshift checks them
only when the view is queried (a query of a view whose relation was dropped fails). Its relations must be
qualified with a schema, and that schema must exist when the view is created. External (Spectrum) tables can be
referenced only in a late-binding view.

DuckDB checks a view's relations when the view is created, so the local Redshift keeps each late-binding view's
Redshift definition in ``_local_aws.late_binding_views`` and creates the DuckDB view (binds it) when a statement
reads the view and every relation it names exists; from then on DuckDB resolves the view's relations again at each
query (a dropped and re-created table, a renamed column are picked up, as the usage notes show). The definition is
translated at binding, so type-dependent rewrites (``trunc`` of a timestamp) see the types the tables have then.
CREATE VIEW itself reads nothing but the catalog: no Spectrum scan, no binding.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import duckdb
import sqlglot
from sqlglot import exp

from local_aws.redshift import load_errors
from local_aws.redshift.errors import RedshiftError

SCHEMA = "_local_aws"
DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"CREATE TABLE IF NOT EXISTS {SCHEMA}.late_binding_views (schema_name VARCHAR NOT NULL, "
    "view_name VARCHAR NOT NULL, definition VARCHAR NOT NULL, PRIMARY KEY (schema_name, view_name))",
)
DEFAULT_SCHEMA = "public"  # where an unqualified name is created (the local Redshift's search_path)
UNQUALIFIED = "All the relation names inside should be qualified when creating VIEW WITH NO SCHEMA BINDING."
# Redshift's refusal of a regular view over a Spectrum table (recorded psycopg2 output, FeatureNotSupported); its
# HINT line ("Please use late binding view and add 'with no schema binding' at the query end.") is not part of the
# error message the Data API reports.
EXTERNAL_IN_VIEW = "External tables are not supported in views"

Key = tuple[str, str]  # (schema, name), lower case


def key(schema: str | None, name: str) -> Key:
    return ((schema or DEFAULT_SCHEMA).lower(), name.lower())


def missing(schema: str, name: str) -> RedshiftError:
    """Redshift's error for a relation that does not exist, named as the view's definition names it."""
    return RedshiftError(f'relation "{schema}.{name}" does not exist')


def registered(cursor: duckdb.DuckDBPyConnection) -> dict[Key, str]:
    """Every late-binding view of the database: (schema, name) -> its Redshift CREATE OR REPLACE VIEW text."""
    rows = cursor.execute(f"SELECT schema_name, view_name, definition FROM {SCHEMA}.late_binding_views").fetchall()
    return {(schema, name): definition for schema, name, definition in rows}


@functools.lru_cache(maxsize=256)
def references(definition: str) -> tuple[tuple[str, str], ...]:
    """The (schema, table) pairs a stored definition reads (all qualified: CREATE checked it), CTEs excluded."""
    tree = sqlglot.parse_one(definition, read="redshift")
    query = tree.expression
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    found = [(t.db, t.name) for t in query.find_all(exp.Table)
             if t.name and not (not t.db and t.name.lower() in ctes)]
    return tuple(dict.fromkeys(found))


def definition_of(tree: exp.Create) -> tuple[Key, str, tuple[tuple[str, str], ...]]:
    """(view key, the definition to keep, its references) of a CREATE VIEW ... WITH NO SCHEMA BINDING. Raises
    RedshiftError for a relation not qualified with a schema, as Redshift does."""
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    query = tree.expression
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    refs = []
    for table in query.find_all(exp.Table):
        if not table.name or (not table.db and table.name.lower() in ctes):
            continue
        if not table.db:
            raise RedshiftError(UNQUALIFIED)
        refs.append((table.db, table.name))
    kept = tree.copy()
    kept.set("no_schema_binding", None)
    kept.set("replace", True)  # binding (re)creates the DuckDB view
    for comment_holder in kept.walk():
        comment_holder.comments = None
    return key(target.db or None, target.name), kept.sql(dialect="redshift"), tuple(dict.fromkeys(refs))


def _schema_exists(cursor: duckdb.DuckDBPyConnection, schema: str) -> bool:
    return cursor.execute("SELECT count(*) FROM duckdb_schemas() WHERE database_name <> 'temp' AND "
                          "lower(schema_name) = ?", [schema.lower()]).fetchone()[0] > 0


def relation_kind(cursor: duckdb.DuckDBPyConnection, schema: str, name: str, *, system: bool = False) -> str | None:
    """'table', 'view' or None for a relation of the DuckDB catalog; ``system`` counts the catalog's own views
    (pg_catalog, information_schema) too."""
    row = cursor.execute(
        "SELECT 'table' FROM duckdb_tables() WHERE database_name <> 'temp' AND lower(schema_name) = ? "
        "AND lower(table_name) = ? UNION ALL SELECT 'view' FROM duckdb_views() WHERE (? OR NOT internal) AND "
        "database_name <> 'temp' AND lower(schema_name) = ? AND lower(view_name) = ?",
        [schema, name, system, schema, name]).fetchone()
    return row[0] if row else None


def create(cursor: duckdb.DuckDBPyConnection, tree: exp.Create) -> None:
    """CREATE [OR REPLACE] VIEW ... WITH NO SCHEMA BINDING: checks names only (schema-qualified relations whose
    schemas exist, no other relation of the view's name unless OR REPLACE replaces a view); binds nothing."""
    view, definition, refs = definition_of(tree)
    for schema in dict.fromkeys([view[0], *(s.lower() for s, _ in refs)]):
        if not _schema_exists(cursor, schema):
            raise RedshiftError(f'schema "{schema}" does not exist')
    existing = relation_kind(cursor, *view)
    late = cursor.execute(f"SELECT count(*) FROM {SCHEMA}.late_binding_views WHERE schema_name = ? AND "
                          "view_name = ?", list(view)).fetchone()[0] > 0
    if existing == "table" or ((existing or late) and not tree.args.get("replace")):
        raise RedshiftError(f'Relation "{view[1]}" already exists')
    if existing == "view":
        cursor.execute(f'DROP VIEW "{view[0]}"."{view[1]}"')  # bound again at its next query
    cursor.execute(f"DELETE FROM {SCHEMA}.late_binding_views WHERE schema_name = ? AND view_name = ?", list(view))
    cursor.execute(f"INSERT INTO {SCHEMA}.late_binding_views VALUES (?, ?, ?)", [*view, definition])


def forget(cursor: duckdb.DuckDBPyConnection, view: Key) -> None:
    cursor.execute(f"DELETE FROM {SCHEMA}.late_binding_views WHERE schema_name = ? AND view_name = ?", list(view))


@dataclass
class Reach:
    """The late-binding views a statement reads (directly or through one another), innermost first, and the
    relations they read that are not late-binding views themselves."""

    views: list[Key] = field(default_factory=list)
    relations: list[tuple[str, str]] = field(default_factory=list)


def reach(late: dict[Key, str], tables) -> Reach:
    found = Reach()

    def visit(schema: str | None, name: str, trail: tuple[Key, ...]) -> None:
        view = key(schema, name)
        if view not in late:
            if trail:
                found.relations.append((schema, name))
            return
        if view in found.views or view in trail:
            return
        for inner_schema, inner_name in references(late[view]):
            visit(inner_schema, inner_name, (*trail, view))
        found.views.append(view)

    for schema, name in tables:
        visit(schema, name, ())
    found.relations = list(dict.fromkeys(found.relations))
    return found


def check_relations(cursor: duckdb.DuckDBPyConnection, found: Reach, external: dict[str, str]) -> None:
    """Binding time: each local relation the views read must exist (Spectrum tables are resolved from the Glue
    catalog by ``spectrum.refresh_external_tables``, which fails the same way for a table not catalogued)."""
    for schema, name in found.relations:
        if schema.lower() in external:
            continue
        if schema.lower() == "pg_catalog" and name.lower() in load_errors.SYSTEM_TABLES:
            continue  # kept in the database's own schema (``translate`` points the name there)
        if relation_kind(cursor, schema.lower(), name.lower(), system=True) is None:
            raise missing(schema, name)


def bind(cursor: duckdb.DuckDBPyConnection, late: dict[Key, str], found: Reach, translate_definition) -> bool:
    """Create the DuckDB view of each late-binding view not bound yet (innermost first); True if any was.
    ``translate_definition(sql) -> DuckDB sql`` translates with the column types the relations have now."""
    bound = False
    for view in found.views:
        if relation_kind(cursor, *view) == "view":
            continue
        cursor.execute(translate_definition(late[view]))
        bound = True
    return bound


def depends_on(cursor: duckdb.DuckDBPyConnection, target: Key, late: dict[Key, str], referenced) -> list[Key]:
    """The regular (bound) views that read ``target``; late-binding views do not depend on anything."""
    views = cursor.execute(
        "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal AND database_name <> 'temp'"
    ).fetchall()
    dependents = []
    for view_schema, view_name in views:
        view = (view_schema.lower(), view_name.lower())
        if view == target or view in late or view_schema == SCHEMA:
            continue
        reads = referenced(cursor, [(view_schema, view_name)])
        if any(key(s, n) == target for s, n in reads if (s, n) != view):
            dependents.append(view)
    return dependents
