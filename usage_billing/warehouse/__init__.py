"""The warehouse: one `Warehouse` interface (protocol.py), a module per engine, the profile
target that names it (profile.py) and `engines.open_warehouse`, which opens the right one."""
