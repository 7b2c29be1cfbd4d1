"""Build strategies: one module each, registered in ``all_strategies.STRATEGIES``.

Each strategy is a class satisfying ``base.BuildStrategy``: its facts (label, code, the
outcomes it reports, what it needs, which failures pass the build on to the next strategy)
sit beside its ``build``. The measured floors come from the data file the benchmark writes
(``sdkboot.floors``), never from numbers in code. Adding a strategy means one module here
plus one line in ``all_strategies``.
"""
