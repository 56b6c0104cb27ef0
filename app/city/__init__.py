"""The offline city: basemap, road graph and gazetteer built from OpenStreetMap data."""
