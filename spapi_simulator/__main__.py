"""``python -m spapi_simulator``: the simulator as its own process, without Django settings."""

from .cli import main

if __name__ == "__main__":
    main()
