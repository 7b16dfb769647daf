"""gnnrec_course: helpers for the GNN recommender course."""

__version__ = "0.1.0"
