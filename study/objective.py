"""The metrics a study reports and a search optimises, named once (STYLE.md, rule 5).

Grid studies (the paper's sensitivity tables) rank by the reported test AUC. Searches
that *choose* settings optimise ``val_auc`` (held-out normal images against synthetic
validation defects), never the test AUC they report.
"""
REPORTED_METRIC = "image_auc"
SEARCH_METRIC = "val_auc"
MODE = "max"
