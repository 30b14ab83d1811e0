"""Building images from Dockerfiles: parsing (pure), build context, execution."""
