"""The camera pipeline: source -> motion -> detector on regions -> tracker -> cascade -> events.

    gateway.vision.pipeline      `start(ctx)`: one supervised `CameraComponent` per camera
    gateway.vision.component     a camera's source, worker thread, model loading, publisher
    gateway.vision.camera        the worker thread (only the newest frame waits)
    gateway.vision.analyzer      one frame's work: motion, detection on regions, tracking
    gateway.vision.motion        motion gating (MOG2 blobs -> regions)
    gateway.vision.tracker       object tracks with a start and an end
    gateway.vision.cascade       settled / hard case / dropped, per track
    gateway.vision.publisher     events, counts, snapshots and hard cases on the loop
    gateway.vision.camera_stats  per-camera counters

Models run through `gateway.inference`.
"""
