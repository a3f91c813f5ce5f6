from blogtools.cli import main

main(prog_name="python -m blogtools")
