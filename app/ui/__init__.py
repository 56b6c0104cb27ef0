"""The console: the only package that imports Qt."""
