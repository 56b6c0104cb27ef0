"""The console's dockable panels."""
