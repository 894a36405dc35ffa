"""The trainer: configuration files, data, distributed helpers and the
training loop. Imports the codec core; the core never imports this package."""
