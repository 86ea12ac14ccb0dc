"""The ground floor: one trial without Ray.

``config`` (the one frozen ``TrialConfig``) and ``budgets`` (the budget blocks and
``effective_config``, the one place a trial's config is built), then one package per concern:
``data`` (datasets, their layouts and registry, the cached loader, the offline generators),
``augment`` (the self-supervised tasks), ``models`` (encoders, pretrained modes, the network,
densities), ``train`` (the loop, devices), ``evaluate`` (scoring, localization, validation) and
``metrics`` (their names and the numbers); ``trial.run_trial`` composes them and ``run`` is
``python -m trainables.run``. Imports nothing from ``study``, ``analysis`` or ``bench``
(``tests/test_architecture.py``).
"""
