"""What runs tasks: the worker, the task contexts and the engine leader's duties."""
