"""The operator window's widgets, one per file; ``console.qt.main_window`` composes them."""
