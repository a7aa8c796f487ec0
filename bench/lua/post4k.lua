-- wrk script: every request is a POST with a 4 KiB body (bench/run, h1-post-4k).
wrk.method = "POST"
wrk.body = string.rep("x", 4096)
wrk.headers["Content-Type"] = "application/octet-stream"
