result = unit.run_steps([Step("x = 6", quiet=True), Step("x * 7", mode="single", filename="<stdin>"),
                         Step("assert x == 5", filename="<test>")])
[(step.stdout, step.success) for step in result.steps]   # [("", True), ("42\n", True), ("", False)]
