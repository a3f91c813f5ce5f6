from blogtools.sandbox import Limits, Sandbox

with Sandbox(Limits(cpu_seconds=10, memory_mb=256), files={"data/in.csv": b"..."},
             on_read=lambda name: lookup(name), wheels=[wheel_bytes]) as sandbox:
    with sandbox.unit() as unit:             # one trust unit: one agent task, one post's blocks
        result = unit.run("print(open('/data/in.csv').read())")
    result.stdout, result.stderr, result.success, result.timed_out, result.output_files
