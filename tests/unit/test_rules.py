"""The filter rules: a table read in order, each rule for the sides it names, the first that holds counted."""

from types import SimpleNamespace

import pytest

from faceswap.core.cli import UserError
from faceswap.faces.rules import (
    MEASURED,
    RULES,
    SCREENING,
    VERDICTS,
    Context,
    first_rule,
    read_exclusions,
    read_verdicts,
    write_verdicts,
)

P = SimpleNamespace(min_size=48, min_score=0.7, max_identity_distance=0.6, min_sharpness=20.0, duplicate_bits=2)


def face(**changes) -> dict:
    return {"key": "v_000001_0", "video": "v", "box": [0, 0, 100, 100], "score": 0.9, "identity_distance": 0.3,
            "sharpness": 50.0, "hash": 0b1111, **changes}


def test_the_table_names_each_rule_once_in_the_order_the_report_counts_them():
    assert [rule.name for rule in RULES] == ["excluded", "min_size", "min_score", "identity", "min_sharpness",
                                             "near_duplicate"]
    assert RULES == SCREENING + MEASURED


@pytest.mark.parametrize("changes, screening, measured", [
    ({}, None, None),
    ({"box": [0, 0, 100, 40]}, "min_size", None),
    ({"box": [0, 0, 40, 40], "score": 0.5}, "min_size", None),  # the first that holds
    ({"score": 0.5}, "min_score", None),
    ({"identity_distance": 0.7, "sharpness": 1.0}, None, "identity"),
    ({"sharpness": 1.0}, None, "min_sharpness"),
])
def test_the_first_rule_that_holds_removes_the_face(changes, screening, measured):
    context = Context(P)
    assert first_rule(SCREENING, face(**changes), "source", context) == screening
    assert first_rule(MEASURED, face(**changes), "source", context) == measured


def test_the_target_keeps_blurred_faces_and_near_duplicates():
    context = Context(P, last_hash={"v": 0b1111})
    assert first_rule(MEASURED, face(sharpness=1.0), "target", context) is None
    assert first_rule(MEASURED, face(), "target", context) is None
    assert first_rule(MEASURED, face(), "source", context) == "near_duplicate"


def test_near_duplicates_are_judged_against_the_last_kept_face_of_the_same_video():
    context = Context(P, last_hash={"v": 0b1111, "w": 0})
    assert first_rule(MEASURED, face(hash=0b0011), "source", context) == "near_duplicate"  # 2 bits apart
    assert first_rule(MEASURED, face(hash=0b0001), "source", context) is None  # 3 bits apart
    assert first_rule(MEASURED, face(video="x"), "source", context) is None  # no face kept there yet
    assert first_rule(MEASURED, face(), "source", Context(SimpleNamespace(**{**vars(P), "duplicate_bits": 0}),
                                                          last_hash={"v": 0b1111})) is None


def test_excluded_keys_are_read_with_comments_and_a_missing_list_is_an_error(tmp_path):
    path = tmp_path / "source.txt"
    path.write_text("v_000001_0  # a hand\n\n# a comment\nv_000002_0\n")
    excluded = read_exclusions(path)
    assert excluded == {"v_000001_0", "v_000002_0"}
    assert first_rule(SCREENING, face(), "target", Context(P, excluded)) == "excluded"
    with pytest.raises(UserError, match="no such file"):
        read_exclusions(tmp_path / "target.txt")


def test_an_exclusion_list_saved_with_a_bom_and_crlf_line_ends_reads_the_same(tmp_path):
    path = tmp_path / "target.txt"
    path.write_bytes(b"\xef\xbb\xbfv_000001_0\r\n\r\n# a comment\r\nv_000002_0  # a hand\r\n")
    assert read_exclusions(path) == {"v_000001_0", "v_000002_0"}


@pytest.mark.parametrize("content, error", [
    (b"v_000001_0\n# caf\xe9\nv_000002_0\n", "line 2 is not UTF-8 text; save the file as UTF-8 or remove the line"),
    (b"v_000001_0\nv_000002_0 v_000003_0\n",
     "line 2: 'v_000002_0 v_000003_0' is not a face key (letters, digits, '_' and '-'); one key a line, "
     "'#' starts a comment"),
    (b"v_000001_0\n\n../../etc/passwd\n",
     "line 3: '../../etc/passwd' is not a face key (letters, digits, '_' and '-'); one key a line, "
     "'#' starts a comment"),
])
def test_an_exclusion_list_that_is_not_utf8_or_holds_a_line_that_is_not_a_key_names_the_line(tmp_path, content,
                                                                                               error):
    path = tmp_path / "target.txt"
    path.write_bytes(content)
    with pytest.raises(UserError) as raised:
        read_exclusions(path)
    assert str(raised.value) == f"{path}: {error}"


def test_verdicts_read_back_as_written_and_a_damaged_file_names_itself(tmp_path):
    path = tmp_path / "verdicts.csv"
    written = bytes([VERDICTS.index("kept"), VERDICTS.index("min_size"), VERDICTS.index("near_duplicate"), 0])
    write_verdicts(path, ["a_0", "b_0", "c_0", "d_0"], written)
    assert path.read_text().splitlines() == ["key,verdict", "a_0,kept", "b_0,min_size", "c_0,near_duplicate",
                                             "d_0,kept"]
    keys, codes = read_verdicts(path)
    assert keys == ["a_0", "b_0", "c_0", "d_0"] and bytes(codes.tolist()) == written
    path.write_text("key,verdict\na_0,kept\nb_0,shrugged\n")
    with pytest.raises(UserError, match="unknown verdict 'shrugged'"):
        read_verdicts(path)
