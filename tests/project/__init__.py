"""The project itself: habits, formatting, the benchmark, warehouse profiles."""
