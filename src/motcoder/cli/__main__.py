"""`python -m motcoder.cli`."""

from motcoder.cli import main

main()
