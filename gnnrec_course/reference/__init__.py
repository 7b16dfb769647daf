"""Reference implementations of the course exercises (one module per notebook topic)."""
