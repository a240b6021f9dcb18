"""The processes you run: the Temporal worker, the simulator and the `nurture` CLI."""
