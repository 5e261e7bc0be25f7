"""The device farm: one campaign over every unit of a device model in a Ray cluster (optional extra `farm`).

Importing this package does not import Ray; `ray_support.import_ray` does, with a helpful error.
"""
