"""Group rows follow each dataset's category registry (VisA's three groups, one per LOCO / AD 2)."""
import numpy as np
import pandas as pd

from analysis.stats.summary import category_order, group_rows


def test_group_rows_average_each_datasets_groups_and_all():
    cells = pd.DataFrame({"tcol": "cutpaste_3way",
                          "category": ["cashew", "pcb1", "pcb2", "fryum", "pushpins"],
                          "mean": [0.9, 0.6, 0.8, 0.7, 0.5], "se": [0.01, 0.03, np.nan, 0.02, 0.04],
                          "n": [3, 3, 3, 2, 3]})
    rows = group_rows(cells, ["tcol"]).set_index("category")
    assert list(rows.index) == ["complex_structure", "single_instance", "mvtec_loco", "all"]
    assert rows.at["complex_structure", "mean"] == (0.6 + 0.8) / 2 and rows.at["complex_structure", "se"] == 0.03
    assert rows.at["single_instance", "mean"] == (0.9 + 0.7) / 2 and rows.at["single_instance", "n"] == 2
    assert rows.at["mvtec_loco", "categories"] == 1
    assert np.isclose(rows.at["all", "mean"], np.mean([0.9, 0.6, 0.8, 0.7, 0.5]))
    assert category_order(["pushpins", "mine", "cashew", "pcb1", "bottle"]) == \
        ["bottle", "pcb1", "cashew", "pushpins", "mine"]
