"""The engine leader's duties, one module each."""
