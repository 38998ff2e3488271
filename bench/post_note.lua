-- wrk script: POST one known genuine note to the target path.
wrk.method = "POST"
wrk.body = '{"variance": 3.6216, "skewness": 8.6661, "curtosis": -2.8073, "entropy": -0.44699}'
wrk.headers["Content-Type"] = "application/json"
