"""Appearance descriptors: the Descriptor protocol, the registry and the built-in descriptors."""
