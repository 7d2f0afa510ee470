"""A TOML config file takes the same settings as the flags; a flag on the command line wins."""
import os

import harness as h

a = h.args()
d = h.tmpdir()
http_port, rtmp_port, override = h.free_port(), h.free_port(), h.free_port()
cfg = os.path.join(d, "origin.toml")
with open(cfg, "w") as f:
    f.write(f'''[origin]
http = "127.0.0.1:{http_port}"
rtmp = "127.0.0.1:{rtmp_port}"
key = ["cam=secret"]
source = ["test:160x120@10:100"]
name = ["fromfile"]
chunk-ms = 200
window = 10
''')

o = h.proc([a.meshcast, "--config", cfg, "origin", "--http", f"127.0.0.1:{override}"], "origin")
base = f"http://127.0.0.1:{override}"
st = h.wait_until(lambda: h.http_get(base + "/api/v1/streams", 1)[0] == 200, 15)
h.check(st, "the --http flag overrides the file's http setting", o)
h.check(h.http_get(f"http://127.0.0.1:{http_port}/api/v1/streams", 1)[0] is None, "the file's http port is unused", o)
o.http = base
pl = h.wait_for_segments(o, "fromfile", 1, timeout=20)
h.check("#EXTINF" in pl, "the source named in the file is served as live/fromfile", o)
h.check("publish live/cam" in o.output(), "the key from the file is configured", o)
h.check(o.stop() == 0, "origin exits cleanly", o)

bad = os.path.join(d, "bad.toml")
with open(bad, "w") as f:
    f.write('[origin]\nchunk-ms = "many"\n')
p = h.proc([a.meshcast, "--config", bad, "origin"], "bad-config")
rc = p.wait(10)
h.check(rc not in (None, 0) and "chunk-ms" in p.output(), f"a bad config value is refused with its name (rc={rc})", p)
print("test_config_file: passed")
