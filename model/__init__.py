"""Training side: model specs, data validation, training, evaluation, export.

Nothing here runs at import time; `python -m model --help` lists the commands.
"""
