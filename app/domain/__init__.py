"""Domain: entities, events, the fold, dispatch rules and geometry. Pure Python: no Qt, no I/O."""
