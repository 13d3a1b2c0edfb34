"""iwp-trainer: train and support Universal Credit work coaches on the In-Work Progression trial.

The modules in this package are plain Python (no Textual); ``iwp_trainer.tui`` presents them.
"""

__version__ = "0.1.0"
