"""The origin with the built-in test source: valid HLS (checked by ffprobe) and a continuous TS
stream that ffmpeg decodes with no error."""
import time

import harness as h

a = h.args()
o = h.start_origin(a.meshcast, "--source", "test:320x240@25:400", "--name", "demo")

pl = h.wait_for_segments(o, "demo", 2, timeout=30)
m = h.parse_media_playlist(pl)
h.check(m["target"] is not None and 1 <= m["target"] <= 3, f"target duration from a 2 s GOP: {m['target']}", o)
h.check("#EXT-X-PROGRAM-DATE-TIME:" in pl, "playlist carries program date time", o)
for uri, dur in m["segments"]:
    h.check(abs(dur - 2.0) < 0.25, f"segment {uri} lasts a GOP: {dur}", o)

# The master playlist names the rendition and its codecs.
st, master, _ = h.http_get(o.http + "/live/demo.m3u8")
h.check(st == 200 and b"#EXT-X-STREAM-INF" in master and b"avc1." in master and b"mp4a.40.2" in master,
        "master playlist lists the source rendition with codecs", o)

# ffprobe reads the media playlist and each segment.
info, err = h.ffprobe_json(o.http + "/live/demo/source.m3u8")
h.check(info is not None, f"ffprobe reads the media playlist ({err.strip()[:200]})", o)
codecs = sorted(s["codec_name"] for s in info["streams"])
h.check(codecs == ["aac", "h264"], f"streams are h264 + aac: {codecs}", o)
seg_uri = m["segments"][0][0]
base = o.http + "/live/demo/"
info, err = h.ffprobe_segment(base + seg_uri)
h.check(info is not None and abs(float(info["format"]["duration"]) - 2.0) < 0.3,
        f"segment {seg_uri} probes with a GOP's duration ({err.strip()[:200]})", o)

# Media sequence advances continuously as segments are added.
first_seq = m["media_sequence"]
time.sleep(4.5)
m2 = h.parse_media_playlist(h.http_get(o.http + "/live/demo/source.m3u8")[1].decode())
h.check(m2["media_sequence"] >= first_seq, "media sequence never goes back", o)
names = [int(u.split("/")[-1].split(".")[0]) for u, _ in m2["segments"]]
h.check(names == list(range(m2["media_sequence"], m2["media_sequence"] + len(names))),
        f"segment numbers continue the media sequence: {m2['media_sequence']} {names}", o)
h.check(len(names) > len(m["segments"]) or m2["media_sequence"] > first_seq, "new segments appeared", o)

# The continuous stream decodes with no error.
rc, err = h.decode_errors(o.http + "/live/demo.ts", 5)
h.check(rc == 0 and err.strip() == "", f"continuous TS decodes with no error (rc={rc}) {err[:300]}", o)

# Unknown streams are 404 with a short body; the API lists the stream.
st, body, _ = h.http_get(o.http + "/live/nope.m3u8")
h.check(st == 404, "unknown stream is 404", o)
st, body, _ = h.http_get(o.http + "/api/v1/streams")
h.check(st == 200 and b"live/demo" in body, "api lists live/demo", o)
st, body, _ = h.http_get(o.http + "/metrics")
h.check(st == 200 and b"meshcast_" in body, "metrics served", o)

h.check(o.stop() == 0, "origin exits cleanly on SIGTERM", o)
print("test_test_source: passed")
