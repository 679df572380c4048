"""Athena-shaped query errors: ``"<ERROR_NAME>: line L:C: <message>"``, as Athena puts them in StateChangeReason."""

from __future__ import annotations

import re

import duckdb

# AthenaError.ErrorCategory values (Athena error catalog): 1 SYSTEM, 2 USER, 3 OTHER.
SYSTEM = 1
USER = 2

# A coarse ErrorType per error name; clients branch on ErrorCategory and the message, not on these numbers.
_ERROR_TYPES = {
    "SYNTAX_ERROR": 1001,
    "TABLE_NOT_FOUND": 1002,
    "SCHEMA_NOT_FOUND": 1003,
    "CATALOG_NOT_FOUND": 1004,
    "COLUMN_NOT_FOUND": 1005,
    "FUNCTION_NOT_FOUND": 1006,
    "TYPE_MISMATCH": 1007,
    "INVALID_CAST_ARGUMENT": 1008,
    "NOT_SUPPORTED": 1009,
    "DIVISION_BY_ZERO": 1010,
    "HIVE_BAD_DATA": 1011,
    "HIVE_CURSOR_ERROR": 1013,
    "ALREADY_EXISTS": 1014,
    "INVALID_INPUT": 1012,
    "HIVE_DDL_ERROR": 1015,
    "HIVE_PATH_ALREADY_EXISTS": 1016,
    "HIVE_COLUMN_ORDER_MISMATCH": 1017,
    "GENERIC_INTERNAL_ERROR": 200,
}


class AthenaQueryError(Exception):
    """``bare``: the message stands alone, as Athena shows the Hive DDL engine's errors ("FAILED: ...")."""

    def __init__(self, name: str, message: str, line: int | None = None, column: int | None = None,
                 bare: bool = False):
        self.name = name
        self.detail = message
        self.line = line
        self.column = column
        self.bare = bare
        position = f"line {line}:{column}: " if line is not None and column is not None else ""
        super().__init__(message if bare else f"{name}: {position}{message}")

    def __reduce__(self):
        # saved with its execution (the state store pickles it): rebuild from the parts, not the formatted text
        return type(self), (self.name, self.detail, self.line, self.column, self.bare)

    @property
    def category(self) -> int:
        return SYSTEM if self.name == "GENERIC_INTERNAL_ERROR" else USER

    def athena_error(self) -> dict:
        return {
            "ErrorCategory": self.category,
            "ErrorType": _ERROR_TYPES.get(self.name, 200),
            "Retryable": False,
            "ErrorMessage": str(self),
        }


def position(sql: str, offset: int | None) -> tuple[int | None, int | None]:
    """1-based (line, column) of a character offset, as Athena reports positions."""
    if offset is None:
        return None, None
    before = sql[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    return line, column


def _offset_of_word(sql: str, word: str) -> int | None:
    match = re.search(r'(?<![\w"])"?' + re.escape(word) + r'"?(?![\w"])', sql, flags=re.IGNORECASE)
    return match.start() if match else None


def from_duckdb(exc: duckdb.Error, sql: str) -> AthenaQueryError:
    """Map a DuckDB error on the translated query to Athena's error name and message.

    Positions are searched for in the original (Trino) text, since DuckDB's refer to the translation.
    """
    text = str(exc).split("\n")[0]
    column = re.search(r'Referenced column "([^"]+)" not found', text)
    if column:
        line, col = position(sql, _offset_of_word(sql, column.group(1)))
        return AthenaQueryError(
            "COLUMN_NOT_FOUND",
            f"Column '{column.group(1)}' cannot be resolved or requester is not authorized to access requested "
            "resources",
            line,
            col,
        )
    function = re.search(r"Function with name (\w+) does not exist", text)
    if function:
        line, col = position(sql, _offset_of_word(sql, function.group(1)))
        return AthenaQueryError("FUNCTION_NOT_FOUND", f"Function '{function.group(1)}' not registered", line, col)
    if "No function matches" in text or "Cannot compare values" in text or "Cannot mix values" in text:
        return AthenaQueryError("TYPE_MISMATCH", _strip_kind(text))
    if isinstance(exc, duckdb.ConversionException):
        cast = re.search(r'Could not convert string "(.*)" to (\S+)', text)
        if cast:
            value, target = cast.groups()
            return AthenaQueryError("INVALID_CAST_ARGUMENT", f"Cannot cast VARCHAR '{value}' to {target}")
        return AthenaQueryError("INVALID_CAST_ARGUMENT", _strip_kind(text))
    if "Division by zero" in text or "division by zero" in text:
        return AthenaQueryError("DIVISION_BY_ZERO", "Division by zero")
    if isinstance(exc, duckdb.ParserException):
        return AthenaQueryError("SYNTAX_ERROR", _strip_kind(text))
    if isinstance(exc, duckdb.BinderException):
        return AthenaQueryError("SYNTAX_ERROR", _strip_kind(text))
    return AthenaQueryError("GENERIC_INTERNAL_ERROR", _strip_kind(text))


def _strip_kind(text: str) -> str:
    """'Binder Error: something' -> 'something'."""
    return re.sub(r"^[A-Za-z ]+Error: ", "", text)


def hive_ddl_error(exception: str, message: str) -> AthenaQueryError:
    """An error of Athena's Hive DDL engine, worded as Athena reports it, e.g. ``FAILED: Execution Error, return
    code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. AlreadyExistsException(message:Database x already exists)``."""
    return AthenaQueryError(
        "HIVE_DDL_ERROR",
        f"FAILED: Execution Error, return code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. "
        f"{exception}(message:{message})",
        bare=True,
    )
