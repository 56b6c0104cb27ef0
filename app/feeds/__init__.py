"""Feed adapters, one module per field format: a sans-I/O parser/encoder plus a thin transport."""
