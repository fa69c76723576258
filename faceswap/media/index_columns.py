"""An image set's index read as columns, for code that looks at every record of a feature film's set at once
(the review page sorts 10^5 faces). Apache Arrow's JSON reader parses ``index.jsonl`` in C++ block by block,
keeping only the asked fields: several times as fast as ``json.loads`` a line, in a fraction of the memory (the
alignments index of 10^5 faces is mostly landmarks). The stages, which go through records one at a time, keep
``iter_index``."""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as arrow_json

from faceswap.core.damage import damaged
from faceswap.media.imageset import INDEX, iter_index


def read_columns(folder: Path, fields: tuple[str, ...]) -> dict[str, list | np.ndarray | None]:
    """The asked fields of every record, in index order: strings as a list, numbers as a float array (NaN where
    a record lacks one), equally shaped lists of numbers as one array with a row per record. A field no record
    has is None. Types are taken from the first record; a field it lacks is read as a number."""
    path = Path(folder) / INDEX
    first = next(iter_index(folder), None)
    if first is None:  # an empty set (a source with no face): Arrow refuses an empty file
        return dict.fromkeys(fields)
    schema = pa.schema([(field, arrow_type(first.get(field))) for field in fields])
    options = arrow_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    parts: dict[str, list] = {field: [] for field in fields}
    try:
        for batch in arrow_json.open_json(path, parse_options=options):  # converted block by block: no second copy
            for field in fields:
                parts[field].append(convert(field, batch.column(field)))
    except pa.ArrowInvalid as error:
        raise damaged(path, f"not JSON records of one layout, cut short? ({str(error).splitlines()[0]})") from None
    return {field: joined(field, parts[field]) for field in fields}


def convert(field: str, column: pa.Array) -> list | np.ndarray | None:
    """One block of a column as a list of strings or a numpy array (numbers missing as NaN; lists all missing
    as None)."""
    if pa.types.is_string(column.type):
        return column.to_pylist()
    if pa.types.is_list(column.type):
        return None if column.null_count == len(column) else nested_array(field, column)
    return numbers(column)


def joined(field: str, parts: list) -> list | np.ndarray | None:
    """The blocks of a column as one; None if no record has the field."""
    if parts and isinstance(parts[0], list):
        values = [value for part in parts for value in part]
        return None if all(value is None for value in values) else values
    if all(part is None for part in parts):
        return None
    if any(part is None for part in parts):
        raise ValueError(f"index field {field!r}: some records lack it")
    values = np.concatenate(parts)
    return None if values.dtype == np.float64 and np.isnan(values).all() else values


def arrow_type(value) -> pa.DataType:
    """The Arrow type of a record's value: text, a number, or lists (of lists) of numbers."""
    if isinstance(value, str):
        return pa.string()
    if isinstance(value, list):
        return pa.list_(arrow_type(value[0] if value else 0.0))
    return pa.float64()


def nested_array(field: str, column: pa.Array) -> np.ndarray:
    """A column of equally shaped lists of numbers as one float32 array, without making a Python float of each."""
    values = column
    while pa.types.is_list(values.type):
        values = values.flatten()
    shape = np.asarray(column[0].as_py()).shape
    flat = numbers(values).astype(np.float32)  # points: float32 is a hundredth of a pixel
    if column.null_count or flat.size != len(column) * int(np.prod(shape)):
        raise ValueError(f"index field {field!r}: every record must hold a list of shape {shape}")
    return flat.reshape(len(column), *shape)


def numbers(values: pa.Array) -> np.ndarray:
    """A float64 Arrow array (as the explicit schema reads numbers) as NumPy, missing values NaN, read from its
    buffers: Arrow's own conversion imports pandas, which alone took 0.3 s of the review page's first page."""
    if values.type != pa.float64():
        raise ValueError(f"index column of {values.type}, not numbers")
    validity, data = values.buffers()[:2]
    if data is None:  # every value missing
        return np.full(len(values), np.nan)
    result = np.frombuffer(data, np.float64)[values.offset:values.offset + len(values)].copy()
    if values.null_count:
        valid = np.unpackbits(np.frombuffer(validity, np.uint8), bitorder="little")
        result[valid[values.offset:values.offset + len(values)] == 0] = np.nan
    return result
