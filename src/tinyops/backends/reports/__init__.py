"""Reports, in one place: tables, JSON payloads, CSV and plots of every stage's results.

Commands parse arguments, call the pipeline and hand its results to a module here.
"""
