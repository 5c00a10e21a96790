"""What the persona fixtures (tests/fixtures/personas.py) log in with."""

PASSWORD = "correct-horse-battery-staple"
