"""Per-incident traces of every step, for review and skill distillation."""
