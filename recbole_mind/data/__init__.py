"""Dataset helpers: converters from raw public datasets to RecBole atomic files."""
