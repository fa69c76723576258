"""An image set's index read as columns, for code that looks at every record of a feature film's set at once
(the review page sorts 10^5 faces). Apache Arrow's JSON reader parses ``index.jsonl`` in C++, three times as
fast as ``json.loads`` a line; the stages, which go through records one at a time, keep ``iter_index``."""

from pathlib import Path

import numpy as np
import pyarrow.json as arrow_json

from faceswap.media.imageset import INDEX


def read_columns(folder: Path, fields: tuple[str, ...]) -> dict[str, list | np.ndarray]:
    """The asked fields of every record, in index order: strings as lists, numbers as numpy arrays (NaN where a
    record lacks a number), lists of numbers as arrays of one row per record. A field no record has is None."""
    path = Path(folder) / INDEX
    if path.stat().st_size == 0:  # an empty set (a source with no face): Arrow refuses an empty file
        return dict.fromkeys(fields)
    options = arrow_json.ParseOptions(unexpected_field_behavior="infer")  # a field first seen late is kept
    table = arrow_json.read_json(path, parse_options=options)
    columns = {}
    for field in fields:
        if field not in table.column_names:
            columns[field] = None
            continue
        column = table.column(field).combine_chunks()
        if column.type.equals("string"):
            columns[field] = column.to_pylist()
        elif hasattr(column.type, "value_type"):  # a list (of lists) of numbers per record
            columns[field] = _nested_array(field, column)
        else:
            columns[field] = column.to_numpy(zero_copy_only=False).astype(np.float64)
    return columns


def _nested_array(field: str, column) -> np.ndarray:
    """A column of equally shaped lists of numbers as one array, without making a Python float of each."""
    values = column
    while hasattr(values.type, "value_type"):
        values = values.flatten()
    shape = np.asarray(column[0].as_py()).shape if len(column) else (0,)
    flat = values.to_numpy(zero_copy_only=False).astype(np.float64)
    if column.null_count or flat.size != len(column) * int(np.prod(shape)):
        raise ValueError(f"index field {field!r}: every record must hold a list of shape {shape}")
    return flat.reshape(len(column), *shape)
