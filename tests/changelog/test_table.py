"""The ``log`` table and its layer selection."""

from __future__ import annotations

from secretsmgr.changelog import parse_entries
from secretsmgr.changelog.table import known_layers, render_table, touching
from tests.changelog.helpers import chain


def test_touching_keeps_entries_of_any_named_layer() -> None:
    entries = parse_entries(chain(2, layers=("databases",)))
    assert touching(entries, ["apps"]) == []
    assert [e.seq for e in touching(entries, ["apps", "databases"])] == [1, 2]


def test_known_layers_are_todays_then_those_only_the_log_names() -> None:
    entries = parse_entries(chain(1, layers=("retired", "apps")))
    assert known_layers(entries, ("infrastructure", "apps")) == (
        "infrastructure",
        "apps",
        "retired",
    )


def test_table_has_a_header_and_a_row_per_entry() -> None:
    lines = render_table(parse_entries(chain(3))).splitlines()
    assert lines[0].split() == [
        "seq",
        "time",
        "(UTC)",
        "actor",
        "action",
        "layers",
        "files",
        "reason",
    ]
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3"]


def test_a_long_layer_list_is_cut_with_a_count_of_the_rest() -> None:
    # sweep 71, shikanime/manifests: an adopt entry of 27 layers made every row 595 wide
    from secretsmgr.changelog.table import _layers_cell

    layers = [f"infrastructure-{i:02d}" for i in range(27)]
    cell = _layers_cell(layers)
    assert cell == "infrastructure-00,… (+26)", cell
    assert _layers_cell([f"l{i}" for i in range(30)]) == "l0,l1,l2,l3,l4,l5,l6,l7,l8,l9,… (+20)"
    assert _layers_cell(["apps", "databases"]) == "apps,databases"
    assert _layers_cell([]) == "-"
