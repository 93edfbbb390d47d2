"""Configuration, the ground floor every stage may read: the settings file and its checks."""
