-- wrk script: POST the same known genuine note as post_note.lua, as one row of an Open
-- Inference Protocol JSON tensor, to the target path.
wrk.method = "POST"
wrk.body = '{"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [[3.6216, 8.6661, -2.8073, -0.44699]]}]}'
wrk.headers["Content-Type"] = "application/json"
