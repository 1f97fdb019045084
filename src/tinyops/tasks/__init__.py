"""The TinyMLPerf tasks end to end: feature presets, data loaders, training recipes, QAT training
and export, metrics and evaluation (keyword spotting, visual wake words, anomaly detection).

See docs/tasks.md; the entry points are ``tasks.train.train`` and ``tasks.evaluate.evaluate``.
"""
